import PluginABI

/// What the host reads in an FLV audio or video tag body (the first bytes of an RTMP audio/video
/// message): codec configurations to cache and key frames to start subscribers on. Handles the classic
/// codec ids (AAC 10; AVC 7, HEVC 12 as some encoders send it) and enhanced RTMP's extended video header.
enum FLVTag {
    /// An AAC AudioSpecificConfig: sound format 10 and AAC packet type 0.
    static func isAudioConfig(_ data: UnsafeRawBufferPointer) -> Bool {
        data.count >= 2 && data[0] >> 4 == 10 && data[1] == 0
    }

    /// A video sequence header: AVC/HEVC packet type 0, or enhanced RTMP's SequenceStart.
    static func isVideoConfig(_ data: UnsafeRawBufferPointer) -> Bool {
        guard data.count >= 2 else { return false }
        if data[0] & 0x80 != 0 { return data[0] & 0x0F == 0 } // enhanced: IsExHeader, PacketType 0
        let codec = data[0] & 0x0F
        return (codec == 7 || codec == 12) && data[1] == 0
    }

    /// A key frame (frame type 1), sequence headers included.
    static func isKeyFrame(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let first = data.first else { return false }
        return (first & 0x70) >> 4 == 1
    }

    /// The flags the host gives an audio frame it relays.
    static func audioFlags(_ data: UnsafeRawBufferPointer) -> UInt32 {
        isAudioConfig(data) ? MONA_MEDIA_CONFIG | MONA_MEDIA_RELIABLE : 0
    }

    /// The flags the host gives a video frame it relays.
    static func videoFlags(_ data: UnsafeRawBufferPointer) -> UInt32 {
        if isVideoConfig(data) { return MONA_MEDIA_CONFIG | MONA_MEDIA_KEY | MONA_MEDIA_RELIABLE }
        return isKeyFrame(data) ? MONA_MEDIA_KEY | MONA_MEDIA_RELIABLE : 0
    }
}
