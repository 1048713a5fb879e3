import RotatorCore
import Testing

@Suite struct SecretMaskingTests {
    @Test func masksLongKeys() {
        #expect(SecretMasking.mask("sk-or-v1-0123456789abcdef9f2a") == "sk-…9f2a")
    }

    @Test func shortKeysRevealAlmostNothing() {
        #expect(SecretMasking.mask("abcdefghij") == "…ij")
        #expect(SecretMasking.mask("abc") == "…")
        #expect(SecretMasking.mask("") == "…")
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals("secret", "secret"))
        #expect(!ConstantTime.equals("secret", "secreT"))
        #expect(!ConstantTime.equals("secret", "secret-longer"))
        #expect(!ConstantTime.equals("", "x"))
        #expect(ConstantTime.matchesAny("b", of: ["a", "b", "c"]))
        #expect(!ConstantTime.matchesAny("d", of: ["a", "b", "c"]))
        #expect(!ConstantTime.matchesAny("a", of: []))
    }
}
