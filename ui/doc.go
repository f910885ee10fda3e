// Package ui serves the appliance's people-facing side over HTTP: the JSON
// API under /api/v1 (and, as it grows, the web pages). It reads and changes
// the archive only through archive's API and never touches storage or keys.
package ui
