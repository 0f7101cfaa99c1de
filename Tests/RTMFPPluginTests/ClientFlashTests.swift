import MonaCodecs
import MonaValues
import Testing

/// The test client's Flash layer: message framing and the records of what the server sends.
@Suite struct ClientFlashTests {
    typealias Client = RTMFPTestClient

    static func command(_ name: String, _ transaction: Double, _ arguments: [MonaValue]) -> [UInt8] {
        Client.FlashMessage.command(name, transaction: transaction, arguments: arguments).encoded
    }

    static func status(_ code: String, level: String = "status") -> MonaValue {
        .object([MonaField("level", .string(level)), MonaField("code", .string(code)), MonaField("description", .string("d"))])
    }

    @Test func messageFraming() throws {
        let message = Client.FlashMessage(type: 0x09, time: 0x0102_0304, payload: [0x17, 0x01])
        #expect(message.encoded == [0x09, 0x01, 0x02, 0x03, 0x04, 0x17, 0x01])
        #expect(Client.FlashMessage(message.encoded) == message)
        let amf3 = Client.FlashMessage(type: 0x11, time: 0, payload: [0x02, 0x00, 0x01, 0x61])
        #expect(amf3.encoded == [0x11, 0, 0, 0, 0, 0x00, 0x02, 0x00, 0x01, 0x61])
        #expect(Client.FlashMessage(amf3.encoded) == amf3)
        #expect(Client.FlashMessage([0x11, 0, 0, 0, 0]) == nil)
        #expect(Client.FlashMessage([0x14, 0, 0]) == nil)
        // `name, transaction, null, arguments` in AMF0.
        #expect(Self.command("ab", 2, [.boolean(true)])
            == [0x14, 0, 0, 0, 0, 0x02, 0x00, 0x02, 0x61, 0x62, 0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 0, 0x05, 0x01, 0x01])
        #expect(Client.FlashMessage.groupJoin(specifier: [0xAA, 0xBB]) == [0x01, 0x03, 0x10, 0xAA, 0xBB])
        #expect(Client.groupID(specifier: []) == ClientPacketTests.hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test func repliesStatusesAndConnection() {
        var records = Client.FlashRecords()
        records.deliver(Self.command("_result", 1, [Self.status("NetConnection.Connect.Success")]), flowID: 2, kind: .stream(0))
        records.deliver(Self.command("_result", 2, [.number(1)]), flowID: 2, kind: .stream(0))
        records.deliver(Self.command("_error", 3, [Self.status("NetConnection.Call.Failed", level: "error")]), flowID: 2, kind: .stream(0))
        records.deliver(Self.command("onStatus", 0, [Self.status("NetStream.Play.Start")]), flowID: 5, kind: .stream(1))
        records.deliver(Self.command("onPush", 0, [.string("x")]), flowID: 2, kind: .stream(0))
        #expect(records.connected)
        #expect(records.statuses.map(\.code) == ["NetConnection.Connect.Success", "NetConnection.Call.Failed", "NetStream.Play.Start"])
        #expect(records.statuses.map(\.stream) == [0, 0, 1])
        #expect(records.statuses[1].level == "error" && records.statuses[1].invocation == "_error")
        #expect(records.replies[2] == .result([.number(1)]))
        #expect(records.replies[3] == .error([Self.status("NetConnection.Call.Failed", level: "error")]))
        #expect(records.invocations.map(\.name) == ["_result", "_result", "_error", "onStatus", "onPush"])
        #expect(records.invocations.last?.arguments == [.string("x")])
        #expect(records.invocations.last?.commandObject == .nil)
    }

    @Test func aFailedConnectIsNotAConnection() {
        var records = Client.FlashRecords()
        records.deliver(Self.command("_error", 1, [Self.status("NetConnection.Connect.Rejected", level: "error")]), flowID: 2,
                        kind: .stream(0))
        #expect(!records.connected)
        #expect(records.replies[1] != nil)
    }

    @Test func mediaDataUserControlAndGroups() {
        var records = Client.FlashRecords()
        records.deliver(Client.FlashMessage(type: 0x08, time: 40, payload: [0xAF, 0x01]).encoded, flowID: 6, kind: .stream(1))
        records.deliver(Client.FlashMessage(type: 0x09, time: 80, payload: [0x17]).encoded, flowID: 7, kind: .stream(1))
        records.deliver(Client.FlashMessage(type: 0x12, time: 0, payload: AMF.encode([.string("onMetaData"), .number(1)], mode: .amf0).bytes).encoded,
                        flowID: 5, kind: .stream(1))
        records.deliver(Client.FlashMessage(type: 0x04, time: 0, payload: [0x00, 0x29, 0, 0, 0x3A, 0x98]).encoded, flowID: 2, kind: .stream(0))
        records.deliver([0x0B] + [UInt8](repeating: 0xCD, count: 32), flowID: 9, kind: .group)
        records.deliver([0x0C, 0x01], flowID: 9, kind: .group)
        records.deliver([0x42, 0, 0, 0, 0, 1], flowID: 5, kind: .stream(1)) // unknown type
        records.deliver([0x14, 0, 0, 0, 0, 0x99], flowID: 2, kind: .stream(0)) // bad AMF
        records.deliver([0x01], flowID: 3, kind: .unknown)
        records.deliver([], flowID: 2, kind: .stream(0)) // an empty final fragment: nothing
        #expect(records.media == [Client.Media(stream: 1, type: 0x08, time: 40, payload: [0xAF, 0x01]),
                                  Client.Media(stream: 1, type: 0x09, time: 80, payload: [0x17])])
        #expect(records.data == [Client.DataMessage(stream: 1, time: 0, values: [.string("onMetaData"), .number(1)])])
        #expect(records.userControls == [Client.UserControl(stream: 0, event: 0x29, payload: [0, 0, 0x3A, 0x98])])
        #expect(records.groupPeerIDs == [[UInt8](repeating: 0xCD, count: 32)])
        #expect(records.unhandled.map(\.flowID) == [9, 5, 2, 3])
    }

    @Test func applicationOfAURL() {
        #expect(Client.application(of: "rtmfp://localhost/app") == "app")
        #expect(Client.application(of: "rtmfp://localhost:1935/app/instance?user=a") == "app/instance")
        #expect(Client.application(of: "rtmfp://localhost") == "")
    }
}
