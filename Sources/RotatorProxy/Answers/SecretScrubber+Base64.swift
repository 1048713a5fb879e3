import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// The base64 forms of a key: the runs of characters that only its bytes decide, in either alphabet and alignment.
extension SecretScrubber {
    /// The runs of base64 characters that only the key's bytes decide, for each alphabet and each of the three
    /// offsets (modulo 3) at which the key can start inside the encoded bytes.
    static func base64Runs(of key: [UInt8]) -> [[UInt8]] {
        var runs: [[UInt8]] = []
        for alphabet in [Base64Alphabet.standard, .urlSafe] {
            for offset in 0..<3 {
                runs.append(base64Run(of: key, offset: offset, alphabet: alphabet))
            }
        }
        return runs
    }

    enum Base64Alphabet {
        case standard
        case urlSafe

        var characters: [UInt8] {
            switch self {
            case .standard: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            case .urlSafe: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
            }
        }
    }

    /// The key encoded after `offset` unknown bytes: the characters whose six bits all come from the key.
    static func base64Run(of key: [UInt8], offset: Int, alphabet: Base64Alphabet) -> [UInt8] {
        let characters = alphabet.characters
        let firstBit = offset * 8
        let endBit = firstBit + key.count * 8
        var run: [UInt8] = []
        var character = (firstBit + 5) / 6
        while (character + 1) * 6 <= endBit {
            var value = 0
            for bit in (character * 6)..<(character * 6 + 6) {
                let keyBit = bit - firstBit
                let byte = key[keyBit / 8]
                value = value << 1 | Int((byte >> (7 - UInt8(keyBit % 8))) & 1)
            }
            run.append(characters[value])
            character += 1
        }
        return run
    }
}
