import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Finds plugin libraries, opens them and checks their ABI.
struct PluginLoader {
    /// Why a plugin could not be loaded; each case has its own log message.
    enum Failure: Error, Equatable {
        case fileNotFound(library: String, tried: [String])
        case cannotOpen(path: String, reason: String)
        case noEntrySymbol(path: String, symbols: [String])
        case refusedHost(path: String)
        case majorMismatch(path: String, plugin: UInt32)
        case tableTooSmall(path: String, size: UInt32)

        var message: String {
            switch self {
            case .fileNotFound(let library, let tried):
                return "\(library) not found (tried \(tried.joined(separator: ", ")))"
            case .cannotOpen(let path, let reason):
                return "\(path): cannot be loaded: \(reason)"
            case .noEntrySymbol(let path, let symbols):
                return "\(path): no entry symbol (looked for \(symbols.joined(separator: ", ")))"
            case .refusedHost(let path):
                return "\(path): the plugin refused host ABI \(versionText(MONA_ABI_VERSION))"
            case .majorMismatch(let path, let plugin):
                return "\(path): plugin ABI \(versionText(plugin)) is incompatible with host ABI \(versionText(MONA_ABI_VERSION)) (the major version must match)"
            case .tableTooSmall(let path, let size):
                return "\(path): plugin table of \(size) bytes is smaller than ABI \(MONA_ABI_MAJOR).0 requires (\(PluginLoader.minimumTableSize))"
            }
        }
    }

    /// Entry functions linked into the executable (slim single binaries), by lower-case section name.
    var staticEntries: [String: mona_plugin_entry_fn] = [:]
    /// Folders searched for a bare library name, in order.
    var searchPaths: [String]
    /// The folder of the ini: a relative path with a '/' (`library = lib/libx.so`) starts there.
    var iniFolder = "."

    static func versionText(_ version: UInt32) -> String {
        "\(version >> 16).\(version & 0xFFFF)"
    }

    /// Opens the plugin for a plan item and returns its validated descriptor and the file it came from.
    func load(_ item: PluginPlan.Item) -> Result<(UnsafePointer<mona_plugin>, String), Failure> {
        if let entry = staticEntries[item.section.lowercased()] {
            return validate(entry(MONA_ABI_VERSION), path: "(built in) \(item.section)")
        }
        let candidates = candidates(item.library)
        guard let path = candidates.first(where: { access($0, F_OK) == 0 }) else {
            return .failure(.fileNotFound(library: item.library, tried: candidates))
        }
        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(.cannotOpen(path: path, reason: dlerror().map { String(cString: $0) } ?? "unknown error"))
        }
        let symbols = item.entry.map { [$0] } ?? ["mona_plugin_entry_\(item.section.lowercased())", MONA_PLUGIN_ENTRY_SYMBOL]
        guard let symbol = symbols.lazy.compactMap({ dlsym(library, $0) }).first else {
            dlclose(library)
            return .failure(.noEntrySymbol(path: path, symbols: symbols))
        }
        let entry = unsafeBitCast(symbol, to: mona_plugin_entry_fn.self)
        let result = validate(entry(MONA_ABI_VERSION), path: path)
        if case .failure = result { dlclose(library) }
        return result
    }

    /// Where a library may be, in order: an absolute path as is, a relative path with a '/' in the
    /// ini's folder, a bare name in each search folder.
    func candidates(_ library: String) -> [String] {
        if library.hasPrefix("/") { return [library] }
        if library.contains("/") { return ["\(iniFolder)/\(library)"] }
        return searchPaths.map { "\($0)/\(library)" }
    }

    /// The size of the 1.0 layout of `mona_plugin` (MONA_PLUGIN_SIZE_1_0): older plugins of the major are welcome.
    static let minimumTableSize = ABIStruct.pluginSize10

    /// Checks a descriptor returned by an entry function.
    func validate(_ descriptor: UnsafePointer<mona_plugin>?, path: String) -> Result<(UnsafePointer<mona_plugin>, String), Failure> {
        guard let descriptor else { return .failure(.refusedHost(path: path)) }
        let version = descriptor.pointee.abi_version
        guard version >> 16 == MONA_ABI_VERSION >> 16 else { return .failure(.majorMismatch(path: path, plugin: version)) }
        guard Int(descriptor.pointee.struct_size) >= Self.minimumTableSize else {
            return .failure(.tableTooSmall(path: path, size: descriptor.pointee.struct_size))
        }
        return .success((descriptor, path))
    }
}
