import MonaMedia
import MonaPluginKit
import PluginABI

/// The plugin's HLS packagers, one per publication: opened when a publication starts (ABI 1.9
/// publication_started, with `[HLS] enabled`), so that the first viewer finds a window of segments
/// already made, or by the first request for a publication whose start was missed; freed once the
/// publication has been over (its packager's sink_stop, which every host sends) for the time a player
/// needs to play the window out.
extension HTTPPlugin {
    /// How long a packager outlives its publication's end: the window's duration, what a player
    /// that was at its start still has to play (then the memory goes).
    var hlsLingerMs: Int64 { Int64(hls.segmentMs) * Int64(hls.window) }

    func publicationStarted(application: String, name: String) {
        guard hls.enabled, packagers[name] == nil else { return }
        switch openPackager(name, application: application) {
        case .success:
            host.log(MONA_LOG_DEBUG, "HLS packaging \(name) from its start (application \(application.isEmpty ? "/" : application))")
        case .failure(.refused(let message)):
            host.log(MONA_LOG_NOTE, "HLS of \(name) refused by the application: \(message)")
        case .failure(.notPublishing):
            break // already over: a plugin told before this one ended it
        }
    }

    /// The publication of `packager` ended: it goes after the linger, unless a new publisher comes.
    func packagerStopped(_ packager: HLSPackager) {
        guard packagers[packager.name] === packager, let endedAt = packager.endedAt,
              let timer = host.startTimer(delayMs: UInt64(hlsLingerMs)) else { return }
        expiries[timer] = (packager.name, endedAt)
    }

    /// The HLS packager of publication `name` for a request of `application`: the running one, or one
    /// opened now (as a client of `application`) when the publication runs; nil when it does not run
    /// or the application refused the packager.
    func packager(_ name: String, application: String) -> HLSPackager? {
        if let packager = packagers[name] { return packager }
        return try? openPackager(name, application: application).get()
    }

    private func openPackager(_ name: String, application: String) -> Result<HLSPackager, HLSPackager.OpenFailure> {
        let segmenter = HLSSegmenter(targetMs: hls.segmentMs, windowSize: hls.window, withTS: hls.ts, partTargetMs: hls.partMs)
        let opened = HLSPackager.open(name: name, application: application, host: host, address: listenAddress, segmenter: segmenter)
        if case .success(let packager) = opened { packagers[name] = packager }
        return opened
    }

    /// Holds `session`'s request until `packager` changes, or until `deadline` (monotonic ms; `Int64.max`:
    /// the session's idle time-out bounds it): one timer per packager, for its earliest deadline.
    func hold(_ session: HTTPSession, on packager: HLSPackager, until deadline: Int64) {
        packager.wait(session)
        guard deadline != .max else { return }
        if let check = packager.check {
            guard deadline < check.at else { return }
            cancelCheck(packager)
        }
        guard let timer = host.startTimer(delayMs: UInt64(max(deadline - host.monotonicMs, 1))) else { return }
        packager.check = (timer, deadline)
        hlsChecks[timer] = packager.name
    }

    /// The check timer of packager `name` fired: its waiting sessions answer (those past their
    /// deadline), or wait again (arming the next check).
    func checkWaits(_ name: String, timer: mona_handle) {
        guard let packager = packagers[name], packager.check?.timer == timer else { return }
        packager.check = nil
        packager.wakeWaiters()
    }

    private func cancelCheck(_ packager: HLSPackager) {
        guard let check = packager.check else { return }
        host.cancelTimer(check.timer)
        hlsChecks[check.timer] = nil
        packager.check = nil
    }

    /// The linger of the end at `endedAt` is over: the packager goes, unless a new publisher came.
    func expire(_ name: String, endedAt: Int64) {
        guard let packager = packagers[name], packager.endedAt == endedAt else { return }
        cancelCheck(packager)
        packager.close()
        packagers[name] = nil
        host.log(MONA_LOG_DEBUG, "HLS packager of \(name) freed (\(packagers.count) left)")
    }

    /// The plugin stops: every packager goes.
    func closePackagers() {
        for timer in expiries.keys { host.cancelTimer(timer) }
        expiries = [:]
        for packager in packagers.values {
            cancelCheck(packager)
            packager.close()
        }
        packagers = [:]
    }
}
