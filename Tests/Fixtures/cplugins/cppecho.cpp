/*
 * cppecho — a drop-in plugin in C++ (g++), built with -fvisibility=hidden: it includes mona_plugin.h
 * and defines mona_plugin_entry with no extern "C" and no visibility annotation of its own; the
 * header's declaration must be enough for the host to find it. A line service: every complete line
 * comes back prefixed with "c++ " and the number of lines this connection sent so far.
 * Configuration: <section>.host (default 127.0.0.1), <section>.port.
 */
#include <mona_plugin.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace {

class Plugin {
public:
    Plugin(const mona_host_api *host, std::string section) : host_(host), section_(std::move(section)) {}

    int32_t start() {
        std::string address = config("host", "127.0.0.1");
        int port = std::atoi(config("port", "0").c_str());
        mona_handle listener = 0;
        int32_t status = host_->tcp_listen(host_->ctx, address.c_str(), static_cast<uint16_t>(port), nullptr, &listener, nullptr);
        if (status == MONA_OK) log("C++ plugin started");
        return status;
    }

    void send(mona_handle connection, const std::string &text) {
        host_->tcp_send(host_->ctx, connection, reinterpret_cast<const uint8_t *>(text.data()), text.size());
    }

private:
    std::string config(const std::string &key, const std::string &fallback) {
        std::string full = section_ + "." + key;
        int64_t size = host_->config_get(host_->ctx, full.c_str(), nullptr, 0);
        if (size < 0) return fallback;
        std::string value(static_cast<size_t>(size), '\0');
        host_->config_get(host_->ctx, full.c_str(), value.data(), value.size());
        return value;
    }

    void log(const std::string &text) { host_->log(host_->ctx, MONA_LOG_INFO, __FILE__, __LINE__, text.data(), text.size()); }

    const mona_host_api *host_;
    std::string section_;
};

struct Session {
    mona_handle connection;
    int lines = 0;
};

void *create(const mona_host_api *host, const char *section) { return new Plugin(host, section); }
int32_t start(void *plugin) { return static_cast<Plugin *>(plugin)->start(); }
void destroy(void *plugin) { delete static_cast<Plugin *>(plugin); }

void *accepted(void *, void *, mona_handle connection, const mona_addr *, const mona_addr *) {
    return new Session{connection};
}

size_t data(void *plugin, void *session, mona_handle, const uint8_t *bytes, size_t size) {
    auto *s = static_cast<Session *>(session);
    std::string input(reinterpret_cast<const char *>(bytes), size);
    size_t consumed = 0;
    for (size_t end; (end = input.find('\n', consumed)) != std::string::npos; consumed = end + 1) {
        std::string reply = "c++ " + std::to_string(++s->lines) + " " + input.substr(consumed, end - consumed) + "\n";
        static_cast<Plugin *>(plugin)->send(s->connection, reply);
    }
    return consumed;
}

void closed(void *, void *session, mona_handle, int32_t) { std::unique_ptr<Session> owned(static_cast<Session *>(session)); }

mona_plugin makeTable() {
    mona_plugin table{}; // every entry this plugin does not set stays NULL
    table.abi_version = MONA_ABI_VERSION;
    table.struct_size = sizeof(mona_plugin);
    table.name = "cppecho";
    table.version = "1.0";
    table.create = create;
    table.start = start;
    table.destroy = destroy;
    table.tcp_accepted = accepted;
    table.tcp_data = data;
    table.tcp_closed = closed;
    return table;
}

const mona_plugin table = makeTable();

} // namespace

const mona_plugin *mona_plugin_entry(uint32_t host_abi_version) {
    return MONA_ABI_VERSION_MAJOR(host_abi_version) == MONA_ABI_MAJOR ? &table : nullptr;
}
