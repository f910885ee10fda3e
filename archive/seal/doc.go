// Package seal holds the archive's seal chain format: the signed chain
// entries (seals and tombstones), their canonical bytes, hashes and
// parsing, the signed chain head, the genesis hash, and the checks that
// need only the appliance's public key. It imports neither bbolt nor the
// archive, so offline verification (an exported zip, a copied chain) links
// only this package; the archive stores and signs the entries it defines.
//
// The byte layout is specified in archive/FORMAT.md (test vectors there).
package seal
