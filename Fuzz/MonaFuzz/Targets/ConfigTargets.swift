import MonaHostCore

/// The ini dialect of MonaServer.ini, from the file's bytes as the host reads them.
func fuzzIni(_ input: [UInt8]) {
    let ini = IniFile(text: String(decoding: input, as: UTF8.self))
    _ = ini.entries.count + ini.sections.count
}
