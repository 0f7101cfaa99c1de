// The HTML page listing a folder (HTTP `index` = true). MonaServer 1.x showed name, modification date
// and size in a table (protocols.md §4.4); this page does the same. Every name is HTML-escaped for the text
// and percent-encoded for the link, so file names cannot inject markup or URL schemes.

import MonaPluginKit
#if canImport(Glibc)
import Glibc
#endif

/// Builds the HTML page of a folder listing.
enum FolderListing {
    /// One listed file or folder.
    typealias Entry = (name: String, isFolder: Bool, size: Int, modified: Int)

    /// The entries of `folder` (a path the host confined, opened by ConfinedOpen), hidden files and Lua
    /// scripts left out; nil when it cannot be opened. Runs on the host's blocking pool.
    static func entries(in folder: String) -> [Entry]? {
        let fd = ConfinedOpen.open(folder, flags: O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return nil }
        guard let directory = fdopendir(fd) else {
            Glibc.close(fd)
            return nil
        }
        defer { closedir(directory) }
        var result: [Entry] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") || name.lowercased().hasSuffix(".lua") { continue }
            var info = stat()
            guard fstatat(fd, name, &info, 0) == 0 else { continue }
            result.append((name, (info.st_mode & S_IFMT) == S_IFDIR, Int(info.st_size), Int(info.st_mtim.tv_sec)))
        }
        return result
    }

    /// The HTML page of a folder listing for `urlPath` (the request path, ending with "/") and `entries`
    /// (name, isFolder, size, modified seconds), folders first then by name; includes a link to the parent
    /// "../" unless urlPath is "/".
    static func page(urlPath: String, entries: [Entry]) -> [UInt8] {
        let title = "Index of " + FileText.escapeHTML(urlPath)
        var html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(title)</title>\n"
        html += "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        html += "th,td{padding:2px 12px;text-align:left}td.size{text-align:right}</style></head>\n"
        html += "<body><h1>\(title)</h1>\n<table>\n<tr><th>Name</th><th>Modified</th><th>Size</th></tr>\n"
        if urlPath != "/" {
            html += "<tr><td><a href=\"../\">../</a></td><td></td><td class=\"size\">-</td></tr>\n"
        }
        let sorted = entries.sorted { left, right in
            left.isFolder != right.isFolder ? left.isFolder : left.name < right.name
        }
        for entry in sorted {
            let suffix = entry.isFolder ? "/" : ""
            let link = FileText.encodeURLSegment(entry.name) + suffix
            let text = FileText.escapeHTML(entry.name) + suffix
            let size = entry.isFolder ? "-" : sizeText(entry.size)
            html += "<tr><td><a href=\"\(link)\">\(text)</a></td><td>\(dateText(entry.modified))</td>"
            html += "<td class=\"size\">\(size)</td></tr>\n"
        }
        html += "</table>\n</body></html>\n"
        return Array(html.utf8)
    }

    /// "06-Nov-1994 08:49" (UTC).
    static func dateText(_ seconds: Int) -> String {
        let time = HTTPDate.civil(seconds)
        return "\(FileText.padded(time.day, 2))-\(HTTPDate.monthNames[time.month - 1])-"
            + "\(FileText.padded(time.year, 4)) "
            + "\(FileText.padded(time.hour, 2)):\(FileText.padded(time.minute, 2))"
    }

    /// "512 B", "1.5 KB", "20.0 MB", … (binary units, one decimal, rounded down).
    static func sizeText(_ size: Int) -> String {
        guard size >= 1024 else { return "\(max(size, 0)) B" }
        var unit = 1024
        var names = ["KB", "MB", "GB", "TB"][...]
        while size / unit >= 1024, names.count > 1 {
            unit *= 1024
            names = names.dropFirst()
        }
        return "\(size / unit).\(size % unit * 10 / unit) \(names.first ?? "KB")"
    }
}
