import MonaValues
import PluginABI

/// The media part of the host API: publish, push, subscribe — served by the host's MediaModel.
enum MediaAPI {
    static func fill(_ api: inout mona_host_api) {
        api.publish = { ctx, client, name, nameSize, publication, err in
            publication?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let name, client != 0 else { return MONA_E_INVAL }
            do throws(MediaModel.Refusal) {
                publication?.pointee = try plugin.runtime.media.publish(client: client, name: MediaAPI.text(name, nameSize))
                return MONA_OK
            } catch {
                ObjectModelAPI.explain(err, error.kind, error.message)
                return error.status
            }
        }
        api.unpublish = { ctx, publication in LoadedPlugin.from(ctx).runtime.media.unpublish(publication) }
        api.pub_audio = { ctx, publication, time, data, size, _ in
            LoadedPlugin.from(ctx).runtime.media.push(publication, video: false, time: time, data: UnsafeRawBufferPointer(start: data, count: size))
        }
        api.pub_video = { ctx, publication, time, data, size, _ in
            LoadedPlugin.from(ctx).runtime.media.push(publication, video: true, time: time, data: UnsafeRawBufferPointer(start: data, count: size))
        }
        api.pub_data = { ctx, publication, format, data, size in
            LoadedPlugin.from(ctx).runtime.media.pushData(publication, format: format,
                                                          data: data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        }
        api.pub_set_metadata = { ctx, publication, mvs, size in
            guard let values = ObjectModelAPI.values(mvs, size), let metadata = values.first else { return MONA_E_INVAL }
            return LoadedPlugin.from(ctx).runtime.media.setMetadata(publication, metadata)
        }
        api.pub_clear_metadata = { ctx, publication in LoadedPlugin.from(ctx).runtime.media.clearMetadata(publication) }
        api.pub_flush = { ctx, publication in LoadedPlugin.from(ctx).runtime.media.flush(publication) }
        api.subscribe = { ctx, client, name, nameSize, query, querySize, sink, subscription, err in
            subscription?.pointee = 0
            let plugin = LoadedPlugin.from(ctx)
            guard let name, client != 0, plugin.entry.sink_audio != nil, plugin.entry.sink_video != nil else { return MONA_E_INVAL }
            do throws(MediaModel.Refusal) {
                subscription?.pointee = try plugin.runtime.media.subscribe(
                    plugin: plugin, client: client, name: MediaAPI.text(name, nameSize), query: query.map { MediaAPI.text($0, querySize) } ?? "", sink: sink)
                return MONA_OK
            } catch {
                ObjectModelAPI.explain(err, error.kind, error.message)
                return error.status
            }
        }
        api.unsubscribe = { ctx, subscription in LoadedPlugin.from(ctx).runtime.media.unsubscribe(subscription) }
        api.sub_set_option = { ctx, subscription, key, value, size in
            guard let key, let values = ObjectModelAPI.values(value, size), let first = values.first else { return MONA_E_INVAL }
            return LoadedPlugin.from(ctx).runtime.media.setOption(subscription, key: String(cString: key), value: first)
        }
    }

    private static func text(_ pointer: UnsafePointer<CChar>, _ size: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: pointer, count: size), as: UTF8.self)
    }
}
