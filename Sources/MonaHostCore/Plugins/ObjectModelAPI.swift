import PluginABI

/// The object-model part of the host API: clients, RPC, writers, files, media, groups.
///
/// These services run Lua (onConnection, client methods, onPublish…) and so belong to the Lua runtime;
/// until it is part of the host they answer MONA_E_UNSUPPORTED with an explanatory mona_error, which
/// the ABI defines as "this host does not provide that service".
enum ObjectModelAPI {
    static func fill(_ api: inout mona_host_api) {
        api.client_open = { _, _, _, _, _, client, response, err in
            client?.pointee = 0
            response?.pointee = mona_buffer()
            ObjectModelAPI.explain(err, "clients")
            return MONA_E_UNSUPPORTED
        }
        api.client_close = { _, _ in MONA_E_UNSUPPORTED }
        api.client_invoke = { _, _, _, _, _, _, results, err in
            results?.pointee = mona_buffer()
            ObjectModelAPI.explain(err, "RPC")
            return MONA_E_UNSUPPORTED
        }
        api.client_parameter = { _, _, _, _, _ in -1 }
        api.client_set_property = { _, _, _, _, _ in MONA_E_UNSUPPORTED }
        api.client_address_changed = { _, _, _ in MONA_E_UNSUPPORTED }
        api.writer_open = { _, _, _, writer in
            writer?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
        api.writer_closed = { _, _, _ in MONA_E_UNSUPPORTED }
        api.client_read_file = { _, _, _, _, _, _, decision, path, properties, err in
            decision?.pointee = MONA_FILE_DENY
            path?.pointee = mona_buffer()
            properties?.pointee = mona_buffer()
            ObjectModelAPI.explain(err, "file access")
            return MONA_E_UNSUPPORTED
        }
        api.publish = { _, _, _, _, publication, err in
            publication?.pointee = 0
            ObjectModelAPI.explain(err, "publications")
            return MONA_E_UNSUPPORTED
        }
        api.unpublish = { _, _ in MONA_E_UNSUPPORTED }
        api.pub_audio = { _, _, _, _, _, _ in MONA_E_UNSUPPORTED }
        api.pub_video = { _, _, _, _, _, _ in MONA_E_UNSUPPORTED }
        api.pub_data = { _, _, _, _, _ in MONA_E_UNSUPPORTED }
        api.pub_set_metadata = { _, _, _, _ in MONA_E_UNSUPPORTED }
        api.pub_clear_metadata = { _, _ in MONA_E_UNSUPPORTED }
        api.pub_flush = { _, _ in MONA_E_UNSUPPORTED }
        api.subscribe = { _, _, _, _, _, _, _, subscription, err in
            subscription?.pointee = 0
            ObjectModelAPI.explain(err, "subscriptions")
            return MONA_E_UNSUPPORTED
        }
        api.unsubscribe = { _, _ in MONA_E_UNSUPPORTED }
        api.sub_set_option = { _, _, _, _, _ in MONA_E_UNSUPPORTED }
        api.group_join = { _, _, _, _, _, _, count, membership in
            count?.pointee = 0
            membership?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
        api.group_leave = { _, _ in MONA_E_UNSUPPORTED }
        api.peer_addresses = { _, _, _, _, count in
            count?.pointee = 0
            return MONA_E_UNSUPPORTED
        }
    }

    /// Fills a mona_error saying the service is missing.
    static func explain(_ err: UnsafeMutablePointer<mona_error>?, _ service: String) {
        guard let err else { return }
        err.pointee.kind = MONA_ERR_OTHER
        let text = "\(service) need the Lua runtime, which this host does not provide yet"
        withUnsafeMutableBytes(of: &err.pointee.message) { raw in
            let bytes = Array(text.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }
}
