import CLuaJIT
import CLuaShim
import MonaValues

/// The media model's calls into Lua: publication and listener objects, and the events around them.
extension LuaRuntime {
    func mediaCreated(_ publication: Publication) {
        call("mediaCreated") {
            lua_pushnumber(L, Double(publication.handle))
            lua_pushstring(L, publication.name)
            return 2
        }
    }

    func mediaGone(_ publication: Publication) {
        call("mediaGone") {
            lua_pushnumber(L, Double(publication.handle))
            return 1
        }
    }

    /// client:onPublish(publication): nil when allowed, else the refusal's message.
    func mediaPublish(client: UInt64, _ publication: Publication) -> String? {
        refusal("mediaPublish") {
            lua_pushnumber(L, Double(client))
            lua_pushnumber(L, Double(publication.handle))
            return 2
        }
    }

    func mediaUnpublish(client: UInt64, _ publication: Publication) {
        call("mediaUnpublish") {
            lua_pushnumber(L, Double(client))
            lua_pushnumber(L, Double(publication.handle))
            return 2
        }
    }

    /// publication.properties follows the metadata; onProperties.
    func mediaProperties(_ publication: Publication) {
        call("mediaProperties") {
            lua_pushnumber(L, Double(publication.handle))
            if let metadata = publication.metadata { _ = LuaBridge(L: L).push([metadata]) } else { lua_pushnil(L) }
            return 2
        }
    }

    /// A publication hook (onData, onFlush) with its arguments.
    func mediaHook(_ publication: Publication, _ name: String, _ arguments: [MonaValue]) {
        call("mediaHook") {
            lua_pushnumber(L, Double(publication.handle))
            LuaBridge(L: L).push(text: name)
            return 2 + LuaBridge(L: L).push(arguments)
        }
    }

    /// publication:onAudio / onVideo(time, packet): the packet as a Lua string of its bytes.
    func mediaHook(_ publication: Publication, _ name: String, time: UInt32, packet: UnsafeRawBufferPointer) {
        call("mediaHook") {
            lua_pushnumber(L, Double(publication.handle))
            LuaBridge(L: L).push(text: name)
            lua_pushnumber(L, Double(time))
            lua_pushlstring(L, packet.baseAddress?.assumingMemoryBound(to: CChar.self), packet.count)
            return 4
        }
    }

    /// client:onSubscribe(listener): nil when allowed, else the refusal's message.
    func mediaSubscribe(_ subscription: Subscription, query: String) -> String? {
        refusal("mediaSubscribe") {
            lua_pushnumber(L, Double(subscription.client))
            lua_pushnumber(L, Double(subscription.handle))
            lua_pushnumber(L, Double(subscription.publication.handle))
            lua_pushstring(L, query)
            return 4
        }
    }

    func mediaUnsubscribe(_ subscription: Subscription) {
        call("mediaUnsubscribe") {
            lua_pushnumber(L, Double(subscription.handle))
            return 1
        }
    }

    /// Calls an entry that answers true, or false and a message.
    private func refusal(_ entry: StaticString, _ arguments: () -> Int32) -> String? {
        var message: String? = "Lua failure"
        call(entry, arguments) { first, count in
            if lua_toboolean(L, first) != 0 {
                message = nil
            } else {
                message = count > 1 ? LuaBridge(L: L).string(at: first + 1) : "refused"
            }
        }
        return message
    }
}
