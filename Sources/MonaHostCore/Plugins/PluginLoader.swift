import PluginABI
#if canImport(Glibc)
import Glibc
#endif

/// Finds plugin libraries, opens them and checks their ABI.
struct PluginLoader {
    /// Why a plugin could not be loaded; each case has its own log message.
    enum Failure: Error, Equatable {
        case fileNotFound(library: String, searched: [String])
        case cannotOpen(path: String, reason: String)
        case noEntrySymbol(path: String, symbols: [String])
        case refusedHost(path: String)
        case majorMismatch(path: String, plugin: UInt32)
        case tableTooSmall(path: String, size: UInt32)

        var message: String {
            switch self {
            case .fileNotFound(let library, let searched):
                return "\(library) not found in \(searched.joined(separator: ", "))"
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
    /// Folders searched for a relative library name, in order.
    var searchPaths: [String]

    static func versionText(_ version: UInt32) -> String {
        "\(version >> 16).\(version & 0xFFFF)"
    }

    /// Opens the plugin for a plan item and returns its validated descriptor and the file it came from.
    func load(_ item: PluginPlan.Item) -> Result<(UnsafePointer<mona_plugin>, String), Failure> {
        if let entry = staticEntries[item.section.lowercased()] {
            return validate(entry(MONA_ABI_VERSION), path: "(built in) \(item.section)")
        }
        guard let path = locate(item.library) else {
            return .failure(.fileNotFound(library: item.library, searched: searchPaths))
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

    /// The absolute path of a library: as is when it contains a '/', else the first search folder that has it.
    func locate(_ library: String) -> String? {
        if library.contains("/") {
            return access(library, F_OK) == 0 ? library : nil
        }
        for folder in searchPaths {
            let candidate = "\(folder)/\(library)"
            if access(candidate, F_OK) == 0 { return candidate }
        }
        return nil
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
