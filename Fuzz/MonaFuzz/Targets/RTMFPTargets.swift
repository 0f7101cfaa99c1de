import PluginABI
@testable import RTMFPPlugin

/// RTMFP's parsers of a packet's plaintext: the chunk list, then every chunk as each parser that may
/// meet it reads it (handshake chunks, user data into one receive flow, acknowledgements, probes,
/// exceptions, Redirect and FIHello), and every message a flow completes as a Flash message, a flow
/// signature and a group join would read it. Small flow limits so that the bounds are reached.
func fuzzRTMFPChunks(_ input: [UInt8]) {
    guard let end = RTMFPChunks.validatedEnd(of: input, from: 0) else { return }
    var parser = RTMFPUserDataParser()
    var configuration = RTMFPReceiveFlow.Configuration()
    configuration.bufferCapacity = 1 << 16
    configuration.maxMessageSize = 1 << 16
    configuration.maxRanges = 16
    var flow: RTMFPReceiveFlow?
    var send = RTMFPSendFlow(id: 1, signature: [0x54, 0x43, 0x04, 0x00])
    _ = send.write([UInt8](repeating: 1, count: 3000), reliable: true, now: 0)
    while send.nextChunk(maxSize: 1150, continuing: false, now: 0) != nil {}
    for chunk in RTMFPChunks(bytes: input[..<end]) {
        _ = RTMFPInitiatorHello(chunk.value)
        _ = RTMFPInitiatorKeying(chunk.value)
        _ = RTMFPRedirect.decode(chunk.value)
        _ = RTMFPForwardedHello.decode(chunk.value)
        _ = RTMFPBufferProbe.parse(chunk.value)
        _ = RTMFPFlowException.parse(chunk.value)
        if let ack = RTMFPAck.parse(chunkType: chunk.type, value: chunk.value) {
            send.handle(ack: ack, now: 10)
            _ = ack.encodedRanges(maxSize: 200)
        }
        guard let fragment = parser.parse(chunkType: chunk.type, value: chunk.value) else { continue }
        if flow == nil {
            flow = RTMFPReceiveFlow(id: fragment.flowID, signature: fragment.metadata ?? [], configuration: configuration)
        }
        for message in flow?.receive(fragment) ?? [] {
            _ = RTMFPFlashMessage(message[...])
            _ = RTMFPFlowSignature(metadata: message[...])
        }
        _ = flow?.takeAck().encodedRanges()
    }
    send.checkTimeout(now: 100_000)
}
