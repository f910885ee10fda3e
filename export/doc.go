// Package export holds the format of a recording's download: the zip
// ([Write]), its offline check ([VerifyZip]), the call-information PDF
// ([CallInfoPDF]) and the appliance's public key as people pass it around
// ([PublicKeyPEM], [ParsePublicKey], [KeyFingerprint]).
//
// A zip holds the canonical stereo WAV of each call (stored, so its bytes
// are the ones whose sha256 the seal signs), call-info.pdf, seal.json (the
// signed seal in binary and spelled out, plus the sha256 of every file)
// and pubkey.pem. Only the seal's fields are evidence: the WAVs must be
// among its exports, and the signature must verify with the appliance's
// key; the listed hashes of the other files catch accidental damage only.
//
// A call recorded in several parts downloads as one zip ([WriteCall],
// [CallFormat]): call.wav, the whole call, and seal.json holding each
// part's seal and the byte length of each of the part's calls in
// call.wav. [VerifyZip] cuts call.wav into those pieces, gives each the
// canonical WAV header, and checks its sha256 against its part's sealed
// exports, so the joined audio is as much evidence as each part's own.
// call.wav has the highest rate of its parts: 16 kHz when a part has
// G.722. A part sealed at 8 kHz then lies in it upsampled; its piece
// checks by its even frames (the 8 kHz audio, hashed with an 8 kHz
// header) and by its odd frames being their interpolation
// (codec.UpsampleCheck), so no sample of it escapes the check.
//
// The PDF is rendered from a [CallDoc] whose values are text already, with
// the Go fonts embedded so names in any European script show, and its
// bytes depend only on the document.
//
// The package reads nothing from storage: the handler gathers the
// recording, its audio, notes and settings from the archive and hands
// them over as an [Input] and a [CallDoc]. It imports the bbolt-free
// archive/seal and no storage, so `callvault verify FILE.zip` links no
// database (a dependency test says so).
package export
