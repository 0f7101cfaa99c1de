import NIOCore
import NIOPosix
import PluginABI

/// A listening socket of a plugin; accepted connections become `TCPConnection`s owned by the plugin.
final class TCPListener: @unchecked Sendable {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let bound: mona_addr
    private var channel: Channel?
    private var closed = false

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, bound: mona_addr) {
        self.handle = handle
        self.owner = owner
        self.context = context
        self.bound = bound
    }

    /// Hands the listening descriptor to NIO; every accepted channel gets a `TCPConnectionHandler`.
    func start(descriptor: Int32, reactor: Reactor) {
        ServerBootstrap(group: reactor.loop)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            // Unwritable as soon as one byte waits, writable again once nothing does: tcp_writable
            // then means "the queue drained".
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 1, high: 1))
            .childChannelInitializer { [self] channel in
                let connection = TCPConnection(handle: reactor.makeHandle(), owner: owner, channel: channel,
                                               reactor: reactor, listenerContext: context)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectionHandler(connection))
                }
            }
            .withBoundSocket(descriptor)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    if closed { channel.close(promise: nil) } else { self.channel = channel }
                case .failure(let error):
                    reactor.runtime.log(.error, "\(owner.section): cannot accept on TCP \(bound.description): \(error)")
                }
            }
    }

    /// Stops listening.
    func close() -> EventLoopFuture<Void> {
        closed = true
        guard let channel else { return owner.runtime.reactor.loop.makeSucceededVoidFuture() }
        self.channel = nil
        return channel.close().recover { _ in }
    }
}
