import CLuaJIT
import CLuaShim
import MonaValues
import PluginABI

/// The natives behind Lua's publication and listener objects.
extension LuaNatives {
    static let mediaFunctions: [(String, lua_CFunction)] = [
        ("mediaPublish", mediaPublish), ("mediaUnpublish", mediaUnpublish), ("mediaPush", mediaPush),
        ("mediaPushData", mediaPushData), ("mediaFlush", mediaFlush), ("mediaSetMetadata", mediaSetMetadata),
        ("mediaClearMetadata", mediaClearMetadata), ("mediaState", mediaState), ("mediaRates", mediaRates),
        ("mediaHooks", mediaHooks), ("mediaOption", mediaOption), ("mediaRecord", mediaRecord), ("mediaStopRecord", mediaStopRecord),
    ]

    private static func media(_ L: OpaquePointer?) -> MediaModel { runtime(L).host.media }

    private static func handle(_ L: OpaquePointer?, _ index: Int32) -> UInt64 { UInt64(max(lua_tonumber(L, index), 0)) }

    /// mediaPublish(name, application) → handle, or nil and the reason.
    static let mediaPublish: lua_CFunction = { L in
        do throws(MediaModel.Refusal) {
            lua_pushnumber(L, Double(try media(L).publish(client: 0, name: string(L, 1), application: string(L, 2))))
            return 1
        } catch {
            lua_pushnil(L)
            lua_pushstring(L, error.message)
            return 2
        }
    }

    static let mediaUnpublish: lua_CFunction = { L in
        lua_pushboolean(L, media(L).unpublish(handle(L, 1)) == MONA_OK ? 1 : 0)
        return 1
    }

    /// mediaPush(handle, video, time, bytes) → false when the publication is not running.
    static let mediaPush: lua_CFunction = { L in
        let bytes = LuaBridge(L: L!).bytes(at: 4)
        let number = lua_tonumber(L, 3)
        let time = number.isFinite ? UInt32(truncatingIfNeeded: Int64(max(min(number, 9e18), -9e18))) : 0
        let status = bytes.withUnsafeBytes { media(L).push(handle(L, 1), video: lua_toboolean(L, 2) != 0, time: time, data: $0) }
        lua_pushboolean(L, status == MONA_OK ? 1 : 0)
        return 1
    }

    /// mediaPushData(handle, format name, bytes).
    static let mediaPushData: lua_CFunction = { L in
        let format: Int32 = switch string(L, 2) {
        case "AMF": MONA_FORMAT_AMF3
        case "AMF0": MONA_FORMAT_AMF0
        case "JSON": MONA_FORMAT_JSON
        case "XMLRPC": MONA_FORMAT_XMLRPC
        default: MONA_FORMAT_RAW
        }
        lua_pushboolean(L, media(L).pushData(handle(L, 1), format: format, data: LuaBridge(L: L!).bytes(at: 3)) == MONA_OK ? 1 : 0)
        return 1
    }

    static let mediaFlush: lua_CFunction = { L in
        _ = media(L).flush(handle(L, 1))
        return 0
    }

    /// mediaSetMetadata(handle, table) → false when not running.
    static let mediaSetMetadata: lua_CFunction = { L in
        let values: [MonaValue]
        do throws(LuaBridge.Unsupported) {
            values = try LuaBridge(L: L!).values(from: 2, to: 2)
        } catch {
            return fail(L, "a \(error.type) cannot be a publication property")
        }
        lua_pushboolean(L, media(L).setMetadata(handle(L, 1), values.first ?? .object(type: "", fields: [])) == MONA_OK ? 1 : 0)
        return 1
    }

    /// mediaRecord(handle, path) → true, or nil and the reason.
    static let mediaRecord: lua_CFunction = { L in
        if let refusal = media(L).record(handle(L, 1), path: string(L, 2)) {
            lua_pushnil(L)
            lua_pushstring(L, refusal)
            return 2
        }
        lua_pushboolean(L, 1)
        return 1
    }

    static let mediaStopRecord: lua_CFunction = { L in
        media(L).stopRecording(handle(L, 1))
        return 0
    }

    static let mediaClearMetadata: lua_CFunction = { L in
        _ = media(L).clearMetadata(handle(L, 1))
        return 0
    }

    /// mediaState(handle) → running, lastTime, droppedFrames.
    static let mediaState: lua_CFunction = { L in
        guard let publication = media(L).publication(handle(L, 1)) else { return 0 }
        lua_pushboolean(L, publication.running ? 1 : 0)
        lua_pushnumber(L, Double(publication.lastTime))
        lua_pushnumber(L, Double(publication.droppedFrames))
        return 3
    }

    /// mediaRates(handle, kind) → byteRate, lastSendingTime of a publication's ("audio") or a
    /// listener's ("listener audio") media kind.
    static let mediaRates: lua_CFunction = { L in
        let model = media(L)
        let kind = string(L, 2)
        let qos: MediaQoS?
        if kind.hasPrefix("listener ") {
            let subscription = model.subscriptions[handle(L, 1)]
            qos = kind.hasSuffix("audio") ? subscription?.audioQoS : kind.hasSuffix("video") ? subscription?.videoQoS : subscription?.dataQoS
        } else {
            let publication = model.publication(handle(L, 1))
            qos = kind == "audio" ? publication?.audioQoS : kind == "video" ? publication?.videoQoS : publication?.dataQoS
        }
        lua_pushnumber(L, qos?.byteRate ?? 0)
        lua_pushnumber(L, qos?.lastSendingTime ?? 0)
        return 2
    }

    /// mediaHooks(handle, name, enabled): the script set (or removed) publication.onAudio & co.
    static let mediaHooks: lua_CFunction = { L in
        guard let publication = media(L).publication(handle(L, 1)) else { return 0 }
        if lua_toboolean(L, 3) != 0 { publication.hooks.insert(string(L, 2)) } else { publication.hooks.remove(string(L, 2)) }
        return 0
    }

    /// mediaOption(subscription, key, boolean): listener.receiveAudio / receiveVideo.
    static let mediaOption: lua_CFunction = { L in
        _ = media(L).setOption(handle(L, 1), key: string(L, 2), value: .boolean(lua_toboolean(L, 3) != 0))
        return 0
    }
}
