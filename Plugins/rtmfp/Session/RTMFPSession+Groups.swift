import MonaPluginKit
import PluginABI

/// A session's membership of one NetGroup: the host's membership, and our flow answering the client's
/// group flow (where the peers to reach are written).
struct RTMFPGroupMembership {
    let groupID: [UInt8]
    let handle: mona_handle
    let answerFlow: UInt64
}

/// NetGroups (protocols.md §3.8): a client's `GC` flow joins a group; the server answers with the peer
/// ids of up to six members, newest first, and the client reaches them through rendezvous. When a
/// member leaves, the member that joined after it is given the one six places before it, so that the
/// overlay stays connected. Group messages are raw (no Flash message header).
extension RTMFPSession {
    /// Group message types.
    enum GroupMessage {
        static let join: UInt8 = 0x01
        static let peer: UInt8 = 0x0B
        /// The group specifier marker: the group id is the SHA-256 of the specifier that follows.
        static let specifier: UInt8 = 0x10
    }

    /// Members handed to a newcomer (and the distance of the leave repair).
    static let groupIntroductions = 6

    func groupMessage(_ bytes: ArraySlice<UInt8>, flow: UInt64) {
        var reader = RTMFPReader(bytes)
        guard let type = reader.u8() else { return }
        guard type == GroupMessage.join else {
            host.log(MONA_LOG_DEBUG, "RTMFP group message 0x\(String(type, radix: 16)) from \(address): ignored")
            return
        }
        guard let size = reader.length(), size >= 1, let marker = reader.peek() else { return fail("a malformed group join") }
        let groupID: [UInt8]
        if marker == GroupMessage.specifier {
            _ = reader.u8()
            guard let specifier = reader.bytes(size - 1) else { return fail("a malformed group join") }
            groupID = host.sha256(Array(specifier))
        } else {
            guard let raw = reader.bytes(32) else { return fail("a malformed group join") }
            groupID = Array(raw)
        }
        join(groupID, flow: flow)
    }

    private func join(_ groupID: [UInt8], flow: UInt64) {
        guard client != 0, groups[flow] == nil else { return }
        switch host.groupJoin(client: client, groupID: groupID, capacity: Self.groupIntroductions) {
        case .success(let membership):
            let answer = openSendFlow(signature: receiveFlows[flow]?.signature ?? [], associated: flow)
            groups[flow] = RTMFPGroupMembership(groupID: groupID, handle: membership.handle, answerFlow: answer)
            plugin.groups.joined(groupID, session: self)
            for peer in membership.peers { introduce(peer, flow: answer) }
        case .failure(let refusal):
            host.log(MONA_LOG_WARN, "RTMFP group join of \(address) refused: \(refusal.message)")
        }
    }

    /// Tells the client one peer of its group to reach.
    func introduce(_ peer: [UInt8], flow: UInt64) {
        write([GroupMessage.peer] + peer, on: flow, now: plugin.now)
    }

    /// The member of `groupID` as this session: the flow to write introductions on.
    func groupAnswerFlow(_ groupID: [UInt8]) -> UInt64? {
        groups.values.first { $0.groupID == groupID }?.answerFlow
    }

    /// Leaves the group joined by a flow (the flow ended, or the session closes).
    func leaveGroup(flow: UInt64) {
        guard let membership = groups.removeValue(forKey: flow) else { return }
        host.groupLeave(membership.handle)
        closeSendFlow(membership.answerFlow)
        plugin.groups.left(membership.groupID, session: self)
    }
}

/// The plugin's view of its NetGroups: each group's member sessions in join order, for the leave repair.
struct RTMFPGroupTable {
    private var members: [[UInt8]: [RTMFPSession]] = [:]

    mutating func joined(_ groupID: [UInt8], session: RTMFPSession) {
        members[groupID, default: []].append(session)
    }

    /// A member left: the one that joined after it learns of the member `groupIntroductions` places
    /// before it.
    mutating func left(_ groupID: [UInt8], session: RTMFPSession) {
        guard var list = members[groupID], let index = list.firstIndex(where: { $0 === session }) else { return }
        list.remove(at: index)
        members[groupID] = list.isEmpty ? nil : list
        let repaired = index, source = index - RTMFPSession.groupIntroductions
        guard repaired < list.count, source >= 0 else { return }
        let next = list[repaired]
        if let flow = next.groupAnswerFlow(groupID) {
            next.introduce(list[source].peerID, flow: flow)
            next.flush(now: next.plugin.now)
        }
    }
}
