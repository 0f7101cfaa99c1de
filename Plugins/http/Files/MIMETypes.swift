// Content types of static files by extension. MonaServer 1.x had a tiny table and served anything else
// as "text/<extension>" (protocols.md §4.4); this is a real table with application/octet-stream as default.

import MonaPluginKit

/// The Content-Type of a served file, chosen by its extension.
enum MIMETypes {
    /// The default for unknown or missing extensions.
    static let fallback = "application/octet-stream"

    /// Extension (lower case) → Content-Type.
    private static let table: [String: String] = [
        // text
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "xhtml": "application/xhtml+xml; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "cjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json",
        "webmanifest": "application/manifest+json",
        "xml": "application/xml; charset=utf-8", "xsl": "application/xml; charset=utf-8",
        "rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8",
        "txt": "text/plain; charset=utf-8", "text": "text/plain; charset=utf-8", "log": "text/plain; charset=utf-8",
        "ini": "text/plain; charset=utf-8", "lua": "text/plain; charset=utf-8",
        "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
        "md": "text/markdown; charset=utf-8", "markdown": "text/markdown; charset=utf-8",
        "vtt": "text/vtt; charset=utf-8", "ics": "text/calendar; charset=utf-8",
        "svg": "image/svg+xml",
        // images
        "png": "image/png", "apng": "image/apng", "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "ico": "image/x-icon", "cur": "image/x-icon",
        "bmp": "image/bmp", "avif": "image/avif", "tif": "image/tiff", "tiff": "image/tiff",
        "heic": "image/heic", "jxl": "image/jxl",
        // fonts
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "eot": "application/vnd.ms-fontobject",
        // documents and archives
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
        "tar": "application/x-tar", "bz2": "application/x-bzip2", "xz": "application/x-xz",
        "7z": "application/x-7z-compressed", "rar": "application/vnd.rar",
        "wasm": "application/wasm", "swf": "application/x-shockwave-flash",
        "bin": "application/octet-stream", "exe": "application/octet-stream",
        // audio
        "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "oga": "audio/ogg", "ogg": "audio/ogg",
        "opus": "audio/ogg", "wav": "audio/wav", "flac": "audio/flac", "weba": "audio/webm", "mid": "audio/midi",
        "midi": "audio/midi",
        // video and streaming
        "mp4": "video/mp4", "m4v": "video/mp4", "ogv": "video/ogg", "webm": "video/webm", "mov": "video/quicktime",
        "avi": "video/x-msvideo", "mkv": "video/x-matroska", "3gp": "video/3gpp", "mpeg": "video/mpeg",
        "mpg": "video/mpeg", "flv": "video/x-flv", "f4v": "video/mp4", "ts": "video/mp2t", "m4s": "video/iso.segment",
        "m3u": "application/vnd.apple.mpegurl", "m3u8": "application/vnd.apple.mpegurl",
        "mpd": "application/dash+xml",
    ]

    /// The Content-Type for a file name or path by its extension (case-insensitive); unknown →
    /// "application/octet-stream". A name that is only a leading dot ("/.htaccess") has no extension.
    static func type(forFileName name: String) -> String {
        guard let ext = fileExtension(name) else { return fallback }
        return table[ext] ?? fallback
    }

    /// The lower-cased extension of the last path component of `name`, nil if it has none.
    static func fileExtension(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        var start = bytes.count
        while start > 0, bytes[start - 1] != 0x2F { start -= 1 }
        guard let dot = bytes[start...].lastIndex(of: 0x2E), dot > start, dot + 1 < bytes.count else { return nil }
        return FileText.lowerASCII(String(decoding: bytes[(dot + 1)...], as: UTF8.self))
    }

    /// True for text types a template may be applied to (text/*, JavaScript, JSON, XML, SVG).
    static func isText(_ contentType: String) -> Bool {
        let essence = FileText.lowerASCII(FileText.trim(contentType.split(separator: ";", maxSplits: 1,
                                                                            omittingEmptySubsequences: false)[0]))
        if essence.hasPrefix("text/") { return true }
        for marker in ["javascript", "json", "xml", "svg"] where essence.contains(marker) { return true }
        return false
    }
}
