import CLuaJIT
import CLuaShim
import MonaCodecs

/// mona:toXML / mona:fromXML: MonaServer's Lua DOM (lua-api.md §3.7) over the XML model of MonaCodecs.
/// A document is a table whose string keys holding tables are processing instructions
/// (`doc.xml.version`) and whose array part holds the root elements; an element is
/// `{__name = tag, attribute = value…, [1..n] = children}` with children element tables or strings.
/// The Lua prelude gives parsed elements their accessors (`el.child`, `el.__value`).
struct XMLBridge {
    let L: OpaquePointer

    /// Why a document could not be written or read.
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Parses text and pushes the document table.
    func parse(_ text: String) -> Result<Void, Failure> {
        let document: XMLDocument
        do throws(CodecError) {
            document = try XMLDOM.parse(text)
        } catch {
            return .failure(Failure(description: "XML malformed: \(error.description)"))
        }
        lua_createtable(L, Int32(document.nodes.count), Int32(document.processingInstructions.count))
        for instruction in document.processingInstructions {
            lua_createtable(L, 0, Int32(instruction.attributes.count))
            for attribute in instruction.attributes { setString(attribute.name, attribute.value) }
            lua_setfield(L, -2, instruction.name)
        }
        pushChildren(document.nodes)
        return .success(())
    }

    private func pushChildren(_ nodes: [XMLNode]) {
        var index: Int32 = 0
        for node in nodes {
            lua_checkstack(L, 4)
            switch node {
            case .text(let text):
                lua_pushstring(L, text)
            case .element(let element):
                lua_createtable(L, Int32(element.children.count), Int32(element.attributes.count + 1))
                setString("__name", element.name)
                for attribute in element.attributes { setString(attribute.name, attribute.value) }
                pushChildren(element.children)
            }
            index += 1
            lua_rawseti(L, -2, index)
        }
    }

    private func setString(_ key: String, _ value: String) {
        lua_pushstring(L, value)
        lua_setfield(L, -2, key)
    }

    /// Serializes the document table at `index`.
    func serialize(at index: Int32) -> Result<String, Failure> {
        guard lua_type(L, index) == LUA_TTABLE else { return .failure(Failure(description: "toXML needs a table")) }
        var document = XMLDocument()
        var instructions: [XMLProcessingInstruction] = []
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TTABLE {
                instructions.append(XMLProcessingInstruction(LuaBridge(L: L).string(at: -2), attributes(at: lua_gettop(L))))
            }
            mona_lua_pop(L, 1)
        }
        document.processingInstructions = instructions.sorted { $0.name < $1.name }
        document.nodes = children(at: index, depth: 0)
        return .success(XMLDOM.serialize(document))
    }

    /// The string attributes of a table (except __name), sorted by name.
    private func attributes(at index: Int32) -> [XMLAttribute] {
        var result: [XMLAttribute] = []
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            if lua_type(L, -2) == LUA_TSTRING {
                let key = LuaBridge(L: L).string(at: -2)
                let type = lua_type(L, -1)
                if key != "__name", type == LUA_TSTRING || type == LUA_TNUMBER || type == LUA_TBOOLEAN {
                    lua_pushvalue(L, -1)
                    let value = type == LUA_TBOOLEAN ? (lua_toboolean(L, -1) != 0 ? "true" : "false") : LuaBridge(L: L).string(at: -1)
                    mona_lua_pop(L, 1)
                    result.append(XMLAttribute(key, value))
                }
            }
            mona_lua_pop(L, 1)
        }
        return result.sorted { $0.name < $1.name }
    }

    /// The array part of a table as nodes: element tables (with __name) and strings.
    private func children(at relative: Int32, depth: Int) -> [XMLNode] {
        let index = relative < 0 ? lua_gettop(L) + relative + 1 : relative
        guard depth < 256 else { return [] }
        var nodes: [XMLNode] = []
        var position: Int32 = 1
        while true {
            lua_rawgeti(L, index, position)
            defer { mona_lua_pop(L, 1) }
            switch lua_type(L, -1) {
            case LUA_TNIL:
                return nodes
            case LUA_TTABLE:
                lua_getfield(L, -1, "__name")
                let name = lua_type(L, -1) == LUA_TSTRING ? LuaBridge(L: L).string(at: -1) : nil
                mona_lua_pop(L, 1)
                if let name {
                    let top = lua_gettop(L)
                    nodes.append(.element(XMLElement(name, attributes: attributes(at: top), children: children(at: top, depth: depth + 1))))
                }
            default:
                nodes.append(.text(LuaBridge(L: L).string(at: -1)))
            }
            position += 1
        }
    }
}
