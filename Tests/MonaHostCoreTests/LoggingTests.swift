import Foundation
import Logging
import Testing
@testable import MonaHostCore

@Suite("Log levels, sink and rotating files")
struct LoggingTests {
    @Test func levelsMapBothWays() {
        for level in MonaLogLevel.allCases {
            let metadata: Logger.Metadata? = level == .fatal ? ["mona.level": "1"] : nil
            #expect(MonaLogLevel(level.swiftLogLevel, metadata: metadata) == level)
        }
        #expect(MonaLogLevel.allCases.map(\.name) == ["FATAL", "CRITIC", "ERROR", "WARN", "NOTE", "INFO", "DEBUG", "TRACE"])
    }

    @Test func rotationKeepsAtMostNFiles() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try #require(RotatingLogFile(directory: "\(folder)/logs/deep", name: "log", rotation: 3, maxSize: 100))
        for index in 0..<20 { file.write("line \(index) " + String(repeating: "x", count: 30)) }
        file.flush()
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/logs/deep").sorted()
        #expect(names == ["log.0", "log.1", "log.2"])
        let current = try String(contentsOfFile: "\(folder)/logs/deep/log.0", encoding: .utf8)
        #expect(current.hasSuffix("line 19 " + String(repeating: "x", count: 30) + "\n"))
        for name in names {
            let size = try FileManager.default.attributesOfItem(atPath: "\(folder)/logs/deep/\(name)")[.size] as? Int ?? 0
            #expect(size <= 100)
        }
        let previous = try String(contentsOfFile: "\(folder)/logs/deep/log.1", encoding: .utf8)
        #expect(previous.contains("line 17") && !previous.contains("line 19"))
    }

    @Test func rotationZeroUsesOneFileThatStartsOver() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try #require(RotatingLogFile(directory: folder, name: "server", rotation: 0, maxSize: 50))
        for index in 0..<10 { file.write("entry \(index) of the log") }
        file.flush()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["server"])
        let text = try String(contentsOfFile: "\(folder)/server", encoding: .utf8)
        #expect(text == "entry 8 of the log\nentry 9 of the log\n")
    }

    @Test func sinkFiltersByLevelAndWritesMonaServersFileFormat() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try #require(RotatingLogFile(directory: folder, name: "log", rotation: 2, maxSize: 0))
        let sink = LogSink(maxLevel: MonaLogLevel.warn.rawValue, console: false, file: file)
        let logger = Logger(label: "test", factory: { _ in MonaLogHandler(sink: sink) })
        logger.mona(.error, "kept error", file: "www/app/main.lua", line: 12)
        logger.mona(.warn, "kept warning")
        logger.mona(.info, "dropped info")
        logger.mona(.fatal, "kept fatal")
        sink.drain()
        let lines = try String(contentsOfFile: "\(folder)/log.0", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasSuffix("  ERROR\t\(getpid())\tapp/main.lua[12]  kept error"))
        #expect(lines[1].contains("WARN") && lines[1].hasSuffix("kept warning"))
        #expect(lines[2].contains("FATAL") && lines[2].hasSuffix("kept fatal"))
        // dd/mm with the month counted from 1
        let month = Calendar.current.component(.month, from: Date())
        #expect(lines[0].dropFirst(3).prefix(2) == String(format: "%02d", month))
    }
}
