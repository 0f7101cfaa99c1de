import MonaPluginKit
import MonaValues
import Testing

/// What a late RPC answer sends to a web client.
@Suite struct WebClientTests {
    @Test func lateAnswersWithoutResultsAndLateFailuresSendNothing() {
        #expect(WebClient.messageValues(response: 0, args: [.string("pushed")]) == [.string("pushed")], "writeMessage")
        #expect(WebClient.messageValues(response: 0, args: []) == [], "an empty writeMessage is still a message")
        #expect(WebClient.messageValues(response: 7, args: [.number(3)]) == [.number(3)], "the late results of call 7")
        #expect(WebClient.messageValues(response: 7, args: []) == nil, "call 7 returned nothing")
        #expect(WebClient.messageValues(response: -7, args: [.string("boom")]) == nil, "call 7 failed")
    }
}
