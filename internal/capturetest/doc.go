// Package capturetest synthesizes captures for tests: pcap and pcapng
// files, the link, IP (with fragments), UDP and TCP headers in them, RTP
// packets, SIP messages with SDP, and whole two-way G.711 calls as a
// phone's Record-to-URL capture has them.
//
// It is test support: only tests import it. The pcap file and record
// headers, the Ethernet/IPv4/UDP frames and their checksums come from
// internal/pcapwrite, which the load generator writes its calls with, so a
// synthesized capture and a load run are laid out by the same code.
package capturetest
