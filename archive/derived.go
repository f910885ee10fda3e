package archive

// infoDerived prefixes the HKDF info of keys derived for other packages:
// "callvault archive v1 derived " ‖ purpose.
const infoDerived = "callvault archive v1 derived "

// DerivedKey returns a 32-byte key for purpose ("share", "share log"…):
// an HKDF-SHA256 subkey of the master key, distinct for every purpose and
// from every key the archive itself uses. It stays the same across
// archive-key changes (RotateKeyFile, SetPassphrase), which re-box the
// master key without changing it, so a package that keeps a store of its
// own can seal it under a key that whoever holds only that file lacks.
// The caller owns the returned slice.
func (a *Archive) DerivedKey(purpose string) []byte {
	return subkey(a.keys.master, infoDerived+purpose)
}
