import Foundation
import Testing

/// The host's media model through the crpc fixture plugin: publish and subscribe, the late-subscriber
/// bootstrap (metadata, audio config, video config before the first key frame, timeline from 0), slow
/// subscribers, refusals by Lua, the Lua publication and listener objects, and `mona:publish`.
@Suite("Media model: publications and subscriptions", .serialized)
struct MediaModelTests {
    // FLV tag bodies: AAC config (af 00), AAC frame (af 01), AVC sequence header (17 00), key frame (17 01),
    // inter frame (27 01).
    static let app = """
    function onConnection(client, role)
        function client:onPublish(publication)
            if publication.name == "forbidden" then return false end
            if publication.name == "broken" then error("no way", 0) end
            function publication:onVideo(time, packet) client.lastVideo = time end
            function publication:onData(name, value) client.dataSeen = tostring(name) .. "=" .. tostring(value) end
        end
        function client:onUnpublish(publication) NOTE("unpublished ", publication.name) end
        function client:onSubscribe(listener)
            if listener.publication.name == "secret" then return false end
            if listener.publication.name == "audioonly" then listener.receiveVideo = false end
            client.listener = listener
        end
        function client:onUnsubscribe(listener) NOTE("unsubscribed ", listener.publication.name) end
        function client:info(name)
            local publication = mona.publications[name]
            if not publication then return "none" end
            local count = 0
            for c, l in pairs(publication.listeners) do count = count + 1 end
            return publication.running, publication.lastTime, count, publication.properties and publication.properties.width,
                client.lastVideo
        end
        function client:listenerInfo() return client.listener.x, client.listener.receiveAudio, client.listener.publication.name end
        function client:mute() client.listener.receiveAudio = false end
        function client:serverPublish(name)
            local publication = mona:publish(name)
            if not publication then return "taken" end
            publication:pushAudio(0, "\\xaf\\x00\\x12\\x10")
            publication:pushVideo(0, "\\x17\\x00\\x01")
            publication:pushVideo(40, "\\x17\\x01\\x02")
            publication:flush()
            client.serverPublication = publication
            return publication.name, publication.running
        end
        function client:serverClose() client.serverPublication:close() return client.serverPublication.running end
        function client:serverData()
            local publication = client.serverPublication
            publication:pushJSONData('["chat","hi"]')
            publication:pushAMF0Data("score", 3)
            publication:pushData("raw text")
            publication:flush()
            return true
        end
        function client:lastData() return client.dataSeen end
        function client:publications() return mona.publications.count, rawequal(mona.publications.k, nil) end
        function client:badTime()
            local publication = mona:publish("odd")
            publication:pushVideo(0 / 0, "\\x17\\x01")
            publication:pushVideo(1e300, "\\x17\\x01")
            publication:close()
            return "alive"
        end
    end
    """

    @Test func aLateSubscriberStartsOnAKeyFrameWithTheConfigurations() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish live", "published")
        try publisher.send("data [\"@setDataFrame\",\"onMetaData\",{\"width\":640}]")
        try publisher.send("audio 1000 af001210")
        try publisher.send("video 1000 170001")
        try publisher.send("video 1000 17010a")
        try publisher.send("video 1040 27010b")
        try publisher.expect("param sync", "param sync absent", "a round trip: the pushes above are done")
        let player = try harness.connect()
        try player.expect("open /", "opened {}")
        // What a new subscriber gets first, as pub_configs reads it (ABI 1.7); nothing for a name nobody publishes.
        try player.expect("configs live", "configs af001210 170001")
        try player.expect("configs nobody", "configs -2", "MONA_E_NOTFOUND")
        try player.expect("configsnull", "configsnull -1 -1", "MONA_E_INVAL for a NULL buffer or name")
        #expect(harness.server.waitFor("pub_configs refused: NULL audio or video buffer"))
        try player.expect("subscribe live x=1", "start live")
        try player.expectLine("meta {width=640}")
        try player.expectLine("subscribed")
        try player.expect("call listenerInfo", #"ok 1 true "live""#, "listener.parameters from the query")
        // Inter frames are skipped until a key frame; then config, then the key frame, on a timeline from 0.
        try publisher.send("video 1080 27010c")
        try publisher.send("audio 1100 af01aa")
        try publisher.send("video 1120 17010d")
        try publisher.send("flush")
        try player.expectLine("audio 0 af001210 5", "the audio config first (CONFIG|RELIABLE)")
        try player.expectLine("audio 0 af01aa 0")
        try player.expectLine("video 20 170001 7", "the video config right before the key frame")
        try player.expectLine("video 20 17010d 6")
        try player.expectLine("flush")
        try publisher.expect("call info live", "ok true 1120 1 640 1120", "running, lastTime, listeners, properties, onVideo hook")
        try publisher.send(#"data ["greeting",42]"#)
        try player.expectLine(#"data 3 ["greeting",42]"#)
        try publisher.expect("call lastData", #"ok "greeting=42""#, "publication:onData gets the message's values")
        // The publisher leaves: the subscriber is told and waits; a new publisher continues its timeline.
        try publisher.expect("unpublish", "unpublished")
        try player.expectLine("stop live")
        try player.expect("configs live", "configs -2", "an unpublished name has no configurations")
        let second = try harness.connect()
        try second.expect("open /", "opened {}")
        try second.expect("publish live", "published")
        try second.expect("configs live", "configs - -", "published, no configuration yet")
        try player.expectLine("start live")
        try second.send("video 5000 17010e")
        try player.expectLine("video 21 17010e 6", "the timeline goes on after the last time sent")
        try player.expect("unsubscribe", "released")
        try player.expectLine("unsubscribed")
        #expect(harness.server.waitFor("unsubscribed live"))
        #expect(harness.server.waitFor("unpublished live"))
    }

    @Test func refusalsOneOwnerAndMutes() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let a = try harness.connect()
        try a.expect("open /", "opened {}")
        try a.expect("publish forbidden", "publish-failed SCRIPT Not authorized to publish forbidden")
        try a.expect("publish broken", "publish-failed SCRIPT no way")
        try a.expect("publish one", "published")
        let b = try harness.connect()
        try b.expect("open /", "opened {}")
        try b.expect("publish one", "publish-failed PERMISSION one is already publishing")
        try b.expect("subscribe secret", "subscribe-failed SCRIPT Not authorized to play secret")
        try b.expect("call info secret", #"ok "none""#, "a refused subscription leaves no publication behind")
        try b.expect("subscribe one", "start one")
        try b.expectLine("subscribed")
        try b.expect("subscribe one", "subscribe-failed PERMISSION one is already played by this client")
        try b.expect("call mute", "ok ")
        try a.expect("param sync", "param sync absent")
        try a.send("audio 0 af01aa")
        try a.send("video 0 17010d")
        try b.expectLine("video 0 17010d 6", "muted audio is not sent")
        // A slow subscriber skips to the next key frame; the publication counts the drops.
        try b.send("slow on")
        try b.expect("param sync", "param sync absent")
        try a.send("video 40 27010e")
        try a.send("video 80 27010f")
        try a.expect("param sync", "param sync absent")
        try b.send("slow off")
        try b.expect("param sync", "param sync absent")
        try a.send("video 120 27011a")
        try a.send("video 160 17011b")
        try b.expectLine("video 160 17011b 6")
        // The publisher disconnects: onUnpublish, the subscriber hears it.
        try a.expect("close", "closed")
        try b.expectLine("stop one")
    }

    @Test func namesOptionsSetInOnSubscribeAndOddTimes() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let a = try harness.connect()
        try a.expect("open /", "opened {}")
        // A dotted name leaves nothing behind in mona.publications once its last listener goes.
        try a.expect("subscribe k.x", "subscribed")
        try a.expect("unsubscribe", "released")
        try a.expectLine("unsubscribed")
        try a.expect("call publications", "ok 0 true")
        // listener.receiveVideo = false in onSubscribe is honoured.
        try a.expect("subscribe audioonly", "subscribed")
        let b = try harness.connect()
        try b.expect("open /", "opened {}")
        try b.expect("publish audioonly", "published")
        try a.expectLine("start audioonly")
        try b.send("video 0 17010d")
        try b.send("audio 0 af01aa")
        try a.expectLine("audio 0 af01aa 0", "no video for this listener")
        // Push times that are not numbers a frame can carry do not bring the server down.
        try b.expect("call badTime", #"ok "alive""#)
    }

    @Test func aPublicationOfTheServerFromLua() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app])
        let player = try harness.connect()
        try player.expect("open /", "opened {}")
        try player.expect("subscribe lua", "subscribed", "a publication can be played before anyone publishes it")
        let scripter = try harness.connect()
        try scripter.expect("open /", "opened {}")
        try scripter.expect("call serverPublish lua", #"ok "lua" true"#)
        try player.expectLine("start lua")
        try player.expectLine("audio 0 af001210 5")
        try player.expectLine("video 0 170001 7", "the timeline starts at the first frame delivered")
        try player.expectLine("video 0 170102 6")
        try player.expectLine("flush")
        try scripter.expect("call serverData", "ok true")
        try player.expectLine(#"data 3 ["chat","hi"]"#, "JSON data as it was pushed")
        let amf = try player.readLine()
        #expect(amf.hasPrefix("data 1 ") && amf.contains("score"), "AMF0 data: \(amf)")
        try player.expectLine("data 6 raw text")
        try player.expectLine("flush")
        try scripter.expect("call serverPublish lua", #"ok "taken""#)
        try scripter.expect("call serverClose", "ok false")
        try player.expectLine("stop lua")
    }

    /// A child application whose clients publish, and whose script publishes with mona:publish.
    static let child = """
    function onConnection(client)
        function client:onUnpublish(publication) NOTE("onUnpublish ", publication.name) end
        function client:serverPublish(name)
            local publication = mona:publish(name)
            publication:close()
            return publication.running
        end
    end
    """

    @Test func pluginsAreToldOfEveryPublicationsStartAndEnd() throws {
        let harness = try LuaHarness(files: ["www/main.lua": Self.app, "www/app/main.lua": Self.child])
        let publisher = try harness.connect()
        try publisher.expect("open /app", "opened {}")
        try publisher.expect("publish cam", "published")
        #expect(harness.server.waitFor("publication started cam in '/app'"), "crpc's publication_started (ABI 1.9), the publisher's app")
        try publisher.expect("unpublish", "unpublished")
        #expect(harness.server.waitFor("onUnpublish cam"))
        let output = harness.server.output
        let ended = try #require(output.range(of: "publication ended cam in '/app'"), "\(output)")
        #expect(ended.lowerBound < output.range(of: "onUnpublish cam")!.lowerBound, "plugins are told before onUnpublish")
        // Lua's mona:publish: the path of the application whose script published.
        try publisher.expect("call serverPublish lua", "ok false")
        #expect(harness.server.waitFor("publication ended lua in '/app'"))
        #expect(harness.server.output.contains("publication started lua in '/app'"))
        let root = try harness.connect()
        try root.expect("open /", "opened {}")
        try root.expect("publish top", "published")
        #expect(harness.server.waitFor("publication started top in ''"), "the root application is \"\": \(harness.server.output)")
    }

    @Test func aPluginOfAnOlderMinorIsNotToldOfPublications() throws {
        // crpc's table sets both fields but declares the 1.8 size: the host must not read past it.
        let harness = try LuaHarness(files: ["www/main.lua": Self.app], crpcDefines: ["CRPC_STRUCT_SIZE=MONA_PLUGIN_SIZE_1_8"])
        let publisher = try harness.connect()
        try publisher.expect("open /", "opened {}")
        try publisher.expect("publish cam", "published")
        try publisher.expect("unpublish", "unpublished")
        #expect(harness.server.waitFor("unpublished cam"), "onUnpublish ran, after where the events would be logged")
        #expect(!harness.server.output.contains("publication started") && !harness.server.output.contains("publication ended"))
    }
}
