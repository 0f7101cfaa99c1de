import NIOCore
import NIOPosix
import PluginABI

/// A bound UDP socket of a plugin.
final class UDPSocket: @unchecked Sendable {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let bound: mona_addr
    private(set) var channel: Channel?
    private var closed = false

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, bound: mona_addr) {
        self.handle = handle
        self.owner = owner
        self.context = context
        self.bound = bound
    }

    /// Hands the bound descriptor to NIO, reading up to 16 datagrams per wake-up (recvmmsg).
    /// On the loop the channel is ready when this returns.
    func start(descriptor: Int32, reactor: Reactor) {
        DatagramBootstrap(group: reactor.loop)
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: 16)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 65536))
            .channelInitializer { [self] channel in
                self.channel = channel
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPSocketHandler(self))
                }
            }
            .withBoundSocket(descriptor)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    if closed { channel.close(promise: nil) }
                case .failure(let error):
                    channel = nil
                    reactor.runtime.log(.error, "\(owner.section): cannot use UDP \(bound.description): \(error)")
                }
            }
    }

    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard !closed, owner.isLive, let onDatagram = owner.entry.udp_datagram else { return }
        if let ip = envelope.remoteAddress.ipAddress, owner.runtime.blacklist.contains(ip) {
            owner.runtime.log(.debug, "Data rejected because client \(ip) is banned")
            return
        }
        var from = mona_addr(envelope.remoteAddress)
        envelope.data.withUnsafeReadableBytes { raw in
            onDatagram(owner.instance, context, handle, &from, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
    }

    func send(to address: SocketAddress, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard !closed, let channel else { return MONA_E_CLOSED }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
        return MONA_OK
    }

    func close() -> EventLoopFuture<Void> {
        closed = true
        guard let channel else { return owner.runtime.reactor.loop.makeSucceededVoidFuture() }
        self.channel = nil
        return channel.close().recover { _ in }
    }
}

/// Feeds datagrams to their `UDPSocket`.
final class UDPSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let socket: UDPSocket

    init(_ socket: UDPSocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        socket.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP errors (port unreachable after a send) land here; a datagram socket stays usable.
        socket.owner.runtime.log(.debug, "\(socket.owner.section): UDP \(socket.bound.description): \(error)")
    }
}
