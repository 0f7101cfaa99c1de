import Foundation
import PluginABI
import Testing
@testable import MonaHostCore

@Suite("Plugin loading: found, missing file, missing symbol, wrong major, refusal")
struct LoaderTests {
    static func item(_ section: String, _ library: String) -> PluginPlan.Item {
        .init(section: section, library: library, entry: nil, implicit: false)
    }

    @Test func findsTheSwiftEchoPluginByItsUniqueSymbol() throws {
        let loader = PluginLoader(searchPaths: [TestEnvironment.products])
        guard case .success(let (descriptor, path)) = loader.load(Self.item("echo", "libMonaEcho.so")) else {
            Issue.record("echo did not load")
            return
        }
        #expect(path == "\(TestEnvironment.products)/libMonaEcho.so")
        #expect(String(cString: descriptor.pointee.name) == "echo")
        #expect(descriptor.pointee.abi_version == MONA_ABI_VERSION)
    }

    @Test func eachFailureHasItsOwnMessage() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for name in ["cecho", "cwrongmajor", "cnoentry", "crefuse", "ctiny"] { try TestEnvironment.buildCPlugin(name, into: folder) }
        let loader = PluginLoader(searchPaths: [folder, "\(folder)/plugins"])

        let missing = loader.load(Self.item("gone", "libgone.so"))
        #expect(missing.failure == .fileNotFound(library: "libgone.so", tried: ["\(folder)/libgone.so", "\(folder)/plugins/libgone.so"]))
        #expect(missing.failure?.message == "libgone.so not found (tried \(folder)/libgone.so, \(folder)/plugins/libgone.so)")

        let noEntry = loader.load(Self.item("noentry", "libcnoentry.so"))
        #expect(noEntry.failure?.message == "\(folder)/libcnoentry.so: no entry symbol (looked for mona_plugin_entry_noentry, mona_plugin_entry)")

        let wrong = loader.load(Self.item("wrong", "libcwrongmajor.so"))
        #expect(wrong.failure?.message == "\(folder)/libcwrongmajor.so: plugin ABI 2.0 is incompatible with host ABI \(TestEnvironment.hostABI) (the major version must match)")

        let refused = loader.load(Self.item("refuse", "libcrefuse.so"))
        #expect(refused.failure?.message == "\(folder)/libcrefuse.so: the plugin refused host ABI \(TestEnvironment.hostABI)")

        let tiny = loader.load(Self.item("tiny", "libctiny.so"))
        #expect(tiny.failure?.message == "\(folder)/libctiny.so: plugin table of 24 bytes is smaller than ABI 1.0 requires (\(PluginLoader.minimumTableSize))")

        try "not a library".write(toFile: "\(folder)/libjunk.so", atomically: true, encoding: .utf8)
        let junk = loader.load(Self.item("junk", "libjunk.so"))
        #expect(junk.failure?.message.hasPrefix("\(folder)/libjunk.so: cannot be loaded: ") == true)

        let good = loader.load(Self.item("cecho", "\(folder)/libcecho.so"))
        #expect(good.failure == nil)
    }

    @Test func aPluginOfAnOlderMinorLoadsWithoutTheNewerFields() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestEnvironment.buildCPlugin("cabi10", into: folder)
        #expect(PluginLoader.minimumTableSize == MemoryLayout<mona_plugin>.offset(of: \.writer_set_property)!)
        guard case .success(let (descriptor, _)) = PluginLoader(searchPaths: [folder]).load(Self.item("old", "libcabi10.so")) else {
            Issue.record("a 1.0 plugin was refused")
            return
        }
        #expect(Int(descriptor.pointee.struct_size) == PluginLoader.minimumTableSize)
        let entry = LoadedPlugin.table(descriptor)
        #expect(entry.create != nil && entry.destroy != nil)
        #expect(entry.writer_set_property == nil)
    }

    @Test func theHeadersDeclarationExportsTheEntryFromCxxAndHiddenVisibility() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Neither fixture annotates its entry: no extern "C", no visibility attribute.
        try TestEnvironment.buildCxxPlugin("cppecho", into: folder, flags: ["-fvisibility=hidden"])
        try TestEnvironment.buildCPlugin("cecho", into: folder, flags: ["-fvisibility=hidden"])
        let loader = PluginLoader(searchPaths: [folder])
        for (library, name) in [("libcppecho.so", "cppecho"), ("libcecho.so", "cecho")] {
            guard case .success(let (descriptor, _)) = loader.load(Self.item(name, library)) else {
                Issue.record("\(library) did not load: \(loader.load(Self.item(name, library)).failure?.message ?? "")")
                continue
            }
            #expect(String(cString: descriptor.pointee.name) == name)
        }
    }

    @Test func aRelativeLibraryPathStartsAtTheInisFolder() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: "\(folder)/conf/lib", withIntermediateDirectories: true)
        try TestEnvironment.buildCPlugin("cecho", into: "\(folder)/conf/lib")
        // The search folders do not hold it, and the working directory is elsewhere.
        let loader = PluginLoader(searchPaths: [folder], iniFolder: "\(folder)/conf")
        guard case .success(let (_, path)) = loader.load(Self.item("cecho", "lib/libcecho.so")) else {
            Issue.record("lib/libcecho.so was not found next to the ini")
            return
        }
        #expect(path == "\(folder)/conf/lib/libcecho.so")
        #expect(loader.load(Self.item("x", "../lib/libcecho.so")).failure?.message
            == "../lib/libcecho.so not found (tried \(folder)/conf/../lib/libcecho.so)")
        #expect(loader.load(Self.item("x", "\(folder)/nowhere.so")).failure?.message
            == "\(folder)/nowhere.so not found (tried \(folder)/nowhere.so)")
    }

    @Test func anExplicitEntrySymbolIsUsedAlone() throws {
        let folder = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TestEnvironment.buildCPlugin("cecho", into: folder)
        let loader = PluginLoader(searchPaths: [folder])
        let item = PluginPlan.Item(section: "x", library: "libcecho.so", entry: "custom_entry", implicit: false)
        #expect(loader.load(item).failure?.message == "\(folder)/libcecho.so: no entry symbol (looked for custom_entry)")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
