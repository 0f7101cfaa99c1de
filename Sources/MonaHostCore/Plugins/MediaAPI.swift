import MonaValues
import PluginABI

/// The media part of the host API: publish, push, subscribe — served by the host's MediaModel. A plugin
/// uses only the publications of its own clients and its own subscriptions (others are MONA_E_INVAL).
enum MediaAPI {
    static func fill(_ api: inout mona_host_api) {
        api.publish = { ctx, client, name, nameSize, publication, err in
            publication?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "publish") { return refused }
            guard let name else { return plugin.refuse("publish", "no name") }
            do throws(MediaModel.Refusal) {
                publication?.pointee = try plugin.runtime.media.publish(client: client, name: MediaAPI.text(name, nameSize))
                return MONA_OK
            } catch {
                ObjectModelAPI.explain(err, error.kind, error.message)
                return error.status
            }
        }
        api.pub_configs = { ctx, name, nameSize, audio, video in
            HostAPITable.fill(audio, [])
            HostAPITable.fill(video, [])
            let plugin = LoadedPlugin.from(ctx)
            guard let audio, let video else { return plugin.refuse("pub_configs", "NULL audio or video buffer") }
            guard name != nil || nameSize == 0 else { return plugin.refuse("pub_configs", "NULL name with \(nameSize) bytes") }
            let text = name.map { MediaAPI.text($0, nameSize) } ?? ""
            guard let publication = plugin.runtime.media.publications[text], publication.running else { return MONA_E_NOTFOUND }
            HostAPITable.fill(audio, publication.audioConfig ?? [])
            HostAPITable.fill(video, publication.videoConfig ?? [])
            return MONA_OK
        }
        api.unpublish = { ctx, publication in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkPublication(plugin, publication, "unpublish") { return refused }
            return plugin.runtime.media.unpublish(publication)
        }
        api.pub_audio = { ctx, publication, time, data, size, flags in
            MediaAPI.push(ctx, publication, video: false, time: time, data: data, size: size, flags: flags)
        }
        api.pub_video = { ctx, publication, time, data, size, flags in
            MediaAPI.push(ctx, publication, video: true, time: time, data: data, size: size, flags: flags)
        }
        api.pub_data = { ctx, publication, format, data, size in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkPublication(plugin, publication, "pub_data") { return refused }
            guard data != nil || size == 0 else { return plugin.refuse("pub_data", "NULL data with \(size) bytes") }
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            return plugin.runtime.media.pushData(publication, format: format, data: bytes) { reason in
                _ = plugin.refuse("pub_data", reason)
            }
        }
        api.pub_set_metadata = { ctx, publication, mvs, size in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkPublication(plugin, publication, "pub_set_metadata") { return refused }
            guard let values = ObjectModelAPI.values(mvs, size), values.count == 1 else {
                return plugin.refuse("pub_set_metadata", "not one MVS value (\(size) bytes)")
            }
            return plugin.runtime.media.setMetadata(publication, values[0])
        }
        api.pub_clear_metadata = { ctx, publication in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkPublication(plugin, publication, "pub_clear_metadata") { return refused }
            return plugin.runtime.media.clearMetadata(publication)
        }
        api.pub_flush = { ctx, publication in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkPublication(plugin, publication, "pub_flush") { return refused }
            return plugin.runtime.media.flush(publication)
        }
        api.subscribe = { ctx, client, name, nameSize, query, querySize, sink, subscription, err in
            subscription?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard plugin.entry.sink_frame != nil || (plugin.entry.sink_audio != nil && plugin.entry.sink_video != nil) else {
                return plugin.refuse("subscribe", "the plugin has neither sink_frame nor sink_audio and sink_video",
                                     status: MONA_E_UNSUPPORTED)
            }
            guard let lua = plugin.runtime.lua else { return MONA_E_CLOSED }
            if let refused = ObjectModelAPI.checkClient(plugin, client, in: lua, "subscribe") { return refused }
            guard let name else { return plugin.refuse("subscribe", "no name") }
            do throws(MediaModel.Refusal) {
                subscription?.pointee = try plugin.runtime.media.subscribe(
                    plugin: plugin, client: client, name: MediaAPI.text(name, nameSize), query: query.map { MediaAPI.text($0, querySize) } ?? "", sink: sink)
                return MONA_OK
            } catch {
                ObjectModelAPI.explain(err, error.kind, error.message)
                return error.status
            }
        }
        api.unsubscribe = { ctx, subscription in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkSubscription(plugin, subscription, "unsubscribe") { return refused }
            return plugin.runtime.media.unsubscribe(subscription)
        }
        api.sub_set_option = { ctx, subscription, key, value, size in
            let plugin = LoadedPlugin.from(ctx)
            if let refused = MediaAPI.checkSubscription(plugin, subscription, "sub_set_option") { return refused }
            guard let key else { return plugin.refuse("sub_set_option", "no key") }
            guard let values = ObjectModelAPI.values(value, size), values.count == 1 else {
                return plugin.refuse("sub_set_option", "\(String(cString: key)): not one MVS value (\(size) bytes)")
            }
            let status = plugin.runtime.media.setOption(subscription, key: String(cString: key), value: values[0])
            if status == MONA_E_INVAL { return plugin.refuse("sub_set_option", "unknown option \(String(cString: key)) or a value of the wrong type") }
            return status
        }
    }

    private static func push(_ ctx: OpaquePointer?, _ publication: mona_handle, video: Bool, time: UInt32,
                             data: UnsafePointer<UInt8>?, size: Int, flags: UInt32) -> Int32 {
        let plugin = LoadedPlugin.from(ctx)
        let function = video ? "pub_video" : "pub_audio"
        if let refused = checkPublication(plugin, publication, function) { return refused }
        guard data != nil || size == 0 else { return plugin.refuse(function, "NULL data with \(size) bytes") }
        return plugin.runtime.media.push(publication, video: video, time: time, data: UnsafeRawBufferPointer(start: data, count: size),
                                         flags: flags)
    }

    /// nil when `publication` is published by a client of `plugin`, else MONA_E_INVAL (see ObjectModelAPI.check).
    private static func checkPublication(_ plugin: LoadedPlugin, _ publication: mona_handle, _ function: String) -> Int32? {
        let publisher = plugin.runtime.media.publication(publication)?.publisher
        let owner = publisher.flatMap { plugin.runtime.lua?.clients[$0]?.plugin }
        return ObjectModelAPI.check(plugin, owner: owner, publication, function)
    }

    /// nil when `subscription` is one of `plugin`'s, else MONA_E_INVAL.
    private static func checkSubscription(_ plugin: LoadedPlugin, _ subscription: mona_handle, _ function: String) -> Int32? {
        ObjectModelAPI.check(plugin, owner: plugin.runtime.media.subscriptions[subscription]?.plugin, subscription, function)
    }

    private static func text(_ pointer: UnsafePointer<CChar>, _ size: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: pointer, count: size), as: UTF8.self)
    }
}
