// Package i18n holds what the web UI and the recipient's playback page
// share about languages: choosing one from an Accept-Language header
// ([Pick]), checking a catalogue against the keys a page uses
// ([Check], [TemplateKeys]), and writing numbers and dates the way a
// language writes them ([Number], [Date], [DateTime]).
//
// A catalogue is a map from a key to its text in one language. Which
// languages a product offers, and their catalogues, stay with the product
// (ui, share); this package knows only the rules of writing.
package i18n
