import PluginABI

/// A one-shot or periodic timer of a plugin.
final class PluginTimer {
    let handle: UInt64
    unowned let owner: LoadedPlugin
    let context: UnsafeMutableRawPointer?
    let periodic: Bool
    private var timer: LoopTimer?

    init(handle: UInt64, owner: LoadedPlugin, context: UnsafeMutableRawPointer?, delayMs: UInt64, periodMs: UInt64,
         reactor: Reactor) {
        self.handle = handle
        self.owner = owner
        self.context = context
        periodic = periodMs > 0
        timer = LoopTimer(reactor: reactor, delayMs: delayMs, periodMs: periodMs) { [unowned self, unowned reactor] in
            fire(reactor)
        }
    }

    private func fire(_ reactor: Reactor) {
        guard reactor.timers[handle] === self, owner.isLive else { return }
        if !periodic {
            reactor.timers[handle] = nil
            cancel()
        }
        owner.entry.timer_fired?(owner.instance, context, handle)
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }
}
