import CLuaShim
import CMonaSystem
import Dispatch
import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Runs the server: parses the command line, reads the configuration, loads the plugins and serves
/// until SIGINT or SIGTERM, then stops gracefully and exits. `staticEntries` are plugins linked into
/// the executable (by lower-case section name), found before any library on disk.
public func monaServerMain(arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                           staticEntries: [String: mona_plugin_entry_fn] = [:]) -> Never {
    // Children of test runners inherit a blocked signal mask: reset it before any thread starts, to
    // SIGINT, SIGTERM and SIGHUP only. Every thread inherits that, and one thread takes them with
    // sigwait, so a stop signal is never lost, however early it comes. SIGHUP reloads the TLS certificates.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    sigaddset(&stopSignals, SIGHUP)
    pthread_sigmask(SIG_SETMASK, &stopSignals, nil)
    signal(SIGPIPE, SIG_IGN)
    // Media frames and socket buffers of 100 KB and more are allocated and freed all the time: keep
    // them in the heap (no mmap/munmap per frame) and do not give its top back to the system at every
    // free. Without this, page faults were a fifth of the RTMP fan-out's CPU (bench/rtmp-fanout).
    mona_system_tune_allocator()

    let command = ServerCommand.parseOrExit(ServerCommand.normalized(arguments))
    let executable = ServerLayout.currentExecutableDirectory()
    var layout = ServerLayout(executableDirectory: executable, root: command.dir, ini: command.ini)

    var notes: [String] = []
    let ini: IniFile?
    if let text = readTextFile(layout.iniPath) {
        ini = IniFile(text: text)
    } else {
        ini = nil
        notes.append("no configuration file at \(layout.iniPath): MonaServer's defaults apply")
    }
    // As in 1.x, an ini key application.dir moves www/, data/ and logs/ (--dir wins over it).
    let configuredDirectory = ini?.entries.last { $0.key == "application.dir" }?.value
    if command.dir == nil, let configuredDirectory, !configuredDirectory.isEmpty {
        layout.rootDirectory = ServerLayout(executableDirectory: executable).resolve(configuredDirectory)
    }
    var extra = command.argumentKeys
    extra["application.command"] = CommandLine.arguments.first ?? "MonaServer"
    extra["application.path"] = "\(executable)/MonaServer"
    extra["application.name"] = "MonaServer"
    extra["application.baseName"] = "MonaServer"
    extra["application.dir"] = configuredDirectory ?? "\(executable)/"
    let config = ServerConfig(ini: ini, extra: extra)

    let logFile = command.log > 0 ? RotatingLogFile(directory: layout.logsDirectory(config: config),
                                                    name: config["logs.name"] ?? "log",
                                                    rotation: config.int("logs.rotation", default: 10),
                                                    maxSize: config.int("logs.maxSize", default: 1_000_000)) : nil
    let sink = LogSink(maxLevel: command.log, file: logFile)
    let runtime = HostRuntime(config: config, layout: layout, sink: sink, staticEntries: staticEntries)
    if command.log > 0, logFile == nil {
        runtime.log(.warn, "cannot write logs in \(layout.logsDirectory(config: config)); logging to the console only")
    }
    runtime.log(.info, "\(MonaVersion.text) starting in \(layout.rootDirectory)")
    for note in notes { runtime.log(.info, note) }

    let waited = stopSignals
    DispatchQueue.global().async {
        var set = waited
        var number: Int32 = 0
        while sigwait(&set, &number) == 0 {
            runtime.log(.info, "signal \(number) received")
            if number == SIGHUP {
                runtime.reloadCertificates()
                continue
            }
            mona_watchdog_request_stop() // a script that loops is interrupted, so the loop can stop
            runtime.requestStop()
        }
    }

    do {
        try runtime.start(plan: PluginPlan(config: config))
    } catch {
        runtime.log(.fatal, "cannot start: \(error)")
        sink.drain()
        exit(1)
    }
    let started = runtime.startedPlugins
    runtime.log(.info, "MonaServer started with \(started.isEmpty ? "no protocol" : started.joined(separator: ", "))")

    // Serve until a signal asks to stop; the stop itself runs on the loop.
    runtime.waitUntilStopped()
    runtime.log(.info, "MonaServer stopped")
    runtime.shutdownReactor()
    exit(0)
}

/// The whole content of a text file, or nil when it cannot be read.
func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
        if count < chunk.count { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}
