import NIOCore
import PluginABI

/// A one-shot or periodic timer of a plugin.
final class PluginTimer: @unchecked Sendable {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let periodic: Bool
    private var scheduled: Scheduled<Void>?
    private var repeated: RepeatedTask?

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, delayMs: UInt64, periodMs: UInt64,
         reactor: Reactor) {
        self.handle = handle
        self.owner = owner
        self.context = context
        periodic = periodMs > 0
        let delay = TimeAmount.milliseconds(Int64(clamping: delayMs))
        if periodic {
            repeated = reactor.loop.scheduleRepeatedTask(initialDelay: delay,
                                                         delay: .milliseconds(Int64(clamping: periodMs))) { [self] _ in
                fire(reactor)
            }
        } else {
            scheduled = reactor.loop.scheduleTask(in: delay) { [self] in fire(reactor) }
        }
    }

    private func fire(_ reactor: Reactor) {
        guard reactor.timers[handle] === self, owner.isLive else { return }
        if !periodic { reactor.timers[handle] = nil }
        owner.entry.timer_fired?(owner.instance, context, handle)
    }

    func cancel() {
        scheduled?.cancel()
        repeated?.cancel()
    }
}
