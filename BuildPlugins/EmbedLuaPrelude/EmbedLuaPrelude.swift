import Foundation
import PackagePlugin

/// Embeds the Lua prelude into the host at build time: the `.lua` files of the target's `Lua/Prelude`
/// folder become one generated Swift file (`LuaPreludeSources`), so the server stays one executable while
/// the prelude is plain Lua in the repository (read, diffed and syntax-checked as Lua).
@main
struct EmbedLuaPrelude: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "Sources/\(target.name)/Lua/Prelude")
        let sources = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "lua" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "LuaPreludeSources.swift")
        return [.buildCommand(displayName: "Embedding the Lua prelude of \(target.name)",
                              executable: try context.tool(named: "LuaEmbedder").url,
                              arguments: [output.path] + sources.map(\.path),
                              inputFiles: sources, outputFiles: [output])]
    }
}
