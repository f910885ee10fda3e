package share

import (
	"strings"

	"github.com/callvault/callvault/internal/i18n"
)

// Languages are the languages of the playback page and the code mail, in
// the order the send form and the page offer them.
var Languages = []string{"en", "de", "no", "se", "dk", "fi", "lv", "lt", "ee"}

// validLanguage reports whether lang is one of Languages.
func validLanguage(lang string) bool {
	_, ok := langTexts[lang]
	return ok
}

// textsFor returns the texts of lang, English for an unknown language.
func textsFor(lang string) *langText {
	if t, ok := langTexts[lang]; ok {
		return t
	}
	return langTexts["en"]
}

// LanguageName is lang's name in that language ("Norsk" for "no");
// "English" for an unknown language.
func LanguageName(lang string) string { return textsFor(lang).name }

// languageTag is the BCP 47 tag of lang ("nb-NO" for "no"), used for the
// page's lang attribute and the browser's date formats.
func languageTag(lang string) string { return textsFor(lang).tag }

// CodeMail is the one-time code mail in lang (English for an unknown one).
func CodeMail(lang, code string) (subject, body string) {
	t := textsFor(lang)
	return t.codeSubject, strings.ReplaceAll(t.codeBody, "{{code}}", code)
}

// DefaultTerms are the terms of use shipped for lang, "" for none.
func DefaultTerms(lang string) string {
	if t, ok := langTexts[lang]; ok {
		return t.terms
	}
	return ""
}

// DefaultExternalMail is the default link mail for an external recipient
// in lang (English for an unknown one); body holds {{link}} and {{expires}}.
func DefaultExternalMail(lang string) (subject, body string) {
	t := textsFor(lang)
	return t.extSubject, t.extBody
}

// DefaultInternalMail is the default link mail to an archive user in lang
// (English for an unknown one); body holds {{link}}, {{recipient}} and
// {{myname}}.
func DefaultInternalMail(lang string) (subject, body string) {
	t := textsFor(lang)
	return t.intSubject, t.intBody
}

// pageText is the page's string key in lang, English for an unknown
// language, "" for an unknown key.
func pageText(lang, key string) string { return textsFor(lang).page[key] }

// PickLanguage picks the page's language from the ?lang= query value (one
// of Languages, or a language tag such as "sv" or "nb-NO") or else from
// an Accept-Language header, the best supported tag by weight. It returns
// "" when neither names a supported language, so the caller applies its
// own default; pass "" as acceptLanguage to ignore the header. Only the
// first 1 KiB and 32 entries of the header are read.
func PickLanguage(query, acceptLanguage string) string {
	if validLanguage(query) {
		return query
	}
	if l := languageFromTag(query); l != "" {
		return l
	}
	return i18n.Pick(acceptLanguage, languageFromTag)
}

// languageFromTag maps a language tag ("sv-SE", "nb", "EN_gb") to one of
// Languages, "" when none fits.
func languageFromTag(tag string) string {
	switch i18n.Primary(tag) {
	case "en":
		return "en"
	case "de":
		return "de"
	case "no", "nb", "nn":
		return "no"
	case "sv":
		return "se"
	case "da":
		return "dk"
	case "fi":
		return "fi"
	case "lv":
		return "lv"
	case "lt":
		return "lt"
	case "et":
		return "ee"
	}
	return ""
}

// pageKeys are the keys of every language's page strings. The page's
// script reads them from a JSON block; {n} and {time} are filled in there.
var pageKeys = []string{
	"title", "language", "intro", "requestCode", "codeSent", "codeLabel",
	"submitCode", "codeFormat", "wrongCode", "codeUsedUp", "tooMany",
	"tooManyUntil", "termsTitle", "termsFallback", "acceptTerms",
	"recordingsTitle", "date", "time", "duration", "accessNumber",
	"queueName", "accessEnds", "expired", "sessionEnded", "error",
	"noScript", "loading", "playerLabel",
}

// langText is everything the product says in one language.
type langText struct {
	name, tag             string
	page                  map[string]string
	codeSubject, codeBody string // codeBody holds {{code}}
	extSubject, extBody   string
	intSubject, intBody   string
	terms                 string
}

var langTexts = map[string]*langText{
	"en": {
		name: "English", tag: "en-GB",
		page: map[string]string{
			"title":           "Call recordings",
			"language":        "Language",
			"intro":           "Call recordings have been shared with you. To listen to them, request a one-time code: it is sent to the email address this link was sent to.",
			"requestCode":     "Request one-time code",
			"codeSent":        "If this link is yours, a code is on its way to your mailbox.",
			"codeLabel":       "One-time code",
			"submitCode":      "Continue",
			"codeFormat":      "Enter the 6 digits from the mail.",
			"wrongCode":       "Wrong code. Attempts left: {n}.",
			"codeUsedUp":      "Wrong code. Request a new code.",
			"tooMany":         "Too many attempts. Please wait a while and try again.",
			"tooManyUntil":    "Too many attempts. Please try again after {time}.",
			"termsTitle":      "Terms of use",
			"termsFallback":   "The terms of use are not available in your language, so they are shown in English.",
			"acceptTerms":     "I accept",
			"recordingsTitle": "Recordings",
			"date":            "Date",
			"time":            "Time",
			"duration":        "Duration",
			"accessNumber":    "Access number",
			"queueName":       "Queue",
			"accessEnds":      "Available until",
			"expired":         "This link has expired.",
			"sessionEnded":    "Your session has ended — request a new code.",
			"error":           "Something went wrong. Please try again.",
			"noScript":        "This page needs JavaScript to play the recordings.",
			"loading":         "Loading…",
			"playerLabel":     "Recording",
		},
		codeSubject: "Your one-time code",
		codeBody:    "Your one-time code is {{code}}. The code is valid for 10 minutes.",
		extSubject:  "Call recordings shared with you",
		extBody: "Hello,\n\nCall recordings have been shared with you. Open this link to listen to them:\n\n{{link}}\n\n" +
			"On the page, request a one-time code; it is sent to this email address. The recordings are available until {{expires}}.\n\n" +
			"This message was sent automatically; please do not reply.",
		intSubject: "Call recordings for you",
		intBody: "Hello {{recipient}},\n\nPlease listen to these call recordings in the archive:\n\n{{link}}\n\n" +
			"Sign in with your own account to open them.\n\n{{myname}}",
		terms: "These recordings are shared with you for your personal listening only.\n\n" +
			"- Do not record, copy or download the recordings, and do not share them or their content with anyone.\n" +
			"- Every access and every play is logged.\n" +
			"- Your access ends at the date shown on this page.\n\n" +
			"Accept these terms to listen to the recordings.",
	},
	"de": {
		name: "Deutsch", tag: "de-DE",
		page: map[string]string{
			"title":           "Gesprächsaufzeichnungen",
			"language":        "Sprache",
			"intro":           "Mit Ihnen wurden Gesprächsaufzeichnungen geteilt. Um sie anzuhören, fordern Sie einen Einmalcode an: Er wird an die E-Mail-Adresse gesendet, an die dieser Link ging.",
			"requestCode":     "Einmalcode anfordern",
			"codeSent":        "Wenn dieser Link Ihnen gehört, ist ein Code auf dem Weg in Ihr Postfach.",
			"codeLabel":       "Einmalcode",
			"submitCode":      "Weiter",
			"codeFormat":      "Geben Sie die 6 Ziffern aus der E-Mail ein.",
			"wrongCode":       "Falscher Code. Verbleibende Versuche: {n}.",
			"codeUsedUp":      "Falscher Code. Fordern Sie einen neuen Code an.",
			"tooMany":         "Zu viele Versuche. Bitte warten Sie eine Weile und versuchen Sie es erneut.",
			"tooManyUntil":    "Zu viele Versuche. Bitte versuchen Sie es nach {time} Uhr erneut.",
			"termsTitle":      "Nutzungsbedingungen",
			"termsFallback":   "Die Nutzungsbedingungen gibt es nicht in Ihrer Sprache; sie werden daher auf Englisch angezeigt.",
			"acceptTerms":     "Ich stimme zu",
			"recordingsTitle": "Aufzeichnungen",
			"date":            "Datum",
			"time":            "Uhrzeit",
			"duration":        "Dauer",
			"accessNumber":    "Zugangsnummer",
			"queueName":       "Warteschlange",
			"accessEnds":      "Verfügbar bis",
			"expired":         "Dieser Link ist abgelaufen.",
			"sessionEnded":    "Ihre Sitzung ist beendet — fordern Sie einen neuen Code an.",
			"error":           "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
			"noScript":        "Diese Seite braucht JavaScript, um die Aufzeichnungen abzuspielen.",
			"loading":         "Wird geladen …",
			"playerLabel":     "Aufzeichnung",
		},
		codeSubject: "Ihr Einmalcode",
		codeBody:    "Ihr Einmalcode lautet {{code}}. Der Code ist 10 Minuten gültig.",
		extSubject:  "Mit Ihnen geteilte Gesprächsaufzeichnungen",
		extBody: "Guten Tag,\n\nmit Ihnen wurden Gesprächsaufzeichnungen geteilt. Öffnen Sie diesen Link, um sie anzuhören:\n\n{{link}}\n\n" +
			"Fordern Sie auf der Seite einen Einmalcode an; er wird an diese E-Mail-Adresse gesendet. Die Aufzeichnungen sind bis {{expires}} verfügbar.\n\n" +
			"Diese Nachricht wurde automatisch versendet; bitte antworten Sie nicht darauf.",
		intSubject: "Gesprächsaufzeichnungen für Sie",
		intBody: "Hallo {{recipient}},\n\nbitte hören Sie sich diese Gesprächsaufzeichnungen im Archiv an:\n\n{{link}}\n\n" +
			"Melden Sie sich mit Ihrem eigenen Konto an, um sie zu öffnen.\n\n{{myname}}",
		terms: "Diese Aufzeichnungen werden nur zum persönlichen Anhören mit Ihnen geteilt.\n\n" +
			"- Nehmen Sie die Aufzeichnungen nicht auf, kopieren oder laden Sie sie nicht herunter, und geben Sie sie oder ihren Inhalt an niemanden weiter.\n" +
			"- Jeder Zugriff und jede Wiedergabe wird protokolliert.\n" +
			"- Ihr Zugriff endet an dem auf dieser Seite angegebenen Datum.\n\n" +
			"Stimmen Sie diesen Bedingungen zu, um die Aufzeichnungen anzuhören.",
	},
	"no": {
		name: "Norsk", tag: "nb-NO",
		page: map[string]string{
			"title":           "Samtaleopptak",
			"language":        "Språk",
			"intro":           "Det er delt samtaleopptak med deg. For å lytte til dem, be om en engangskode: den sendes til e-postadressen denne lenken ble sendt til.",
			"requestCode":     "Be om engangskode",
			"codeSent":        "Hvis denne lenken er din, er en kode på vei til innboksen din.",
			"codeLabel":       "Engangskode",
			"submitCode":      "Fortsett",
			"codeFormat":      "Skriv inn de 6 sifrene fra e-posten.",
			"wrongCode":       "Feil kode. Gjenstående forsøk: {n}.",
			"codeUsedUp":      "Feil kode. Be om en ny kode.",
			"tooMany":         "For mange forsøk. Vent en stund og prøv igjen.",
			"tooManyUntil":    "For mange forsøk. Prøv igjen etter kl. {time}.",
			"termsTitle":      "Vilkår for bruk",
			"termsFallback":   "Vilkårene for bruk finnes ikke på ditt språk og vises derfor på engelsk.",
			"acceptTerms":     "Jeg godtar",
			"recordingsTitle": "Opptak",
			"date":            "Dato",
			"time":            "Klokkeslett",
			"duration":        "Varighet",
			"accessNumber":    "Tilgangsnummer",
			"queueName":       "Kø",
			"accessEnds":      "Tilgjengelig til",
			"expired":         "Denne lenken er utløpt.",
			"sessionEnded":    "Økten din er avsluttet — be om en ny kode.",
			"error":           "Noe gikk galt. Prøv igjen.",
			"noScript":        "Denne siden trenger JavaScript for å spille av opptakene.",
			"loading":         "Laster …",
			"playerLabel":     "Opptak",
		},
		codeSubject: "Din engangskode",
		codeBody:    "Engangskoden din er {{code}}. Koden er gyldig i 10 minutter.",
		extSubject:  "Samtaleopptak delt med deg",
		extBody: "Hei,\n\nDet er delt samtaleopptak med deg. Åpne denne lenken for å lytte til dem:\n\n{{link}}\n\n" +
			"Be om en engangskode på siden; den sendes til denne e-postadressen. Opptakene er tilgjengelige til {{expires}}.\n\n" +
			"Denne meldingen er sendt automatisk; ikke svar på den.",
		intSubject: "Samtaleopptak til deg",
		intBody: "Hei {{recipient}},\n\nJeg vil gjerne at du lytter til disse samtaleopptakene i arkivet:\n\n{{link}}\n\n" +
			"Logg inn med din egen konto for å åpne dem.\n\n{{myname}}",
		terms: "Disse opptakene er delt med deg kun for at du selv skal lytte til dem.\n\n" +
			"- Du må ikke ta opp, kopiere eller laste ned opptakene, og du må ikke dele dem eller innholdet med noen.\n" +
			"- All tilgang og hver avspilling logges.\n" +
			"- Tilgangen din opphører på datoen som vises på denne siden.\n\n" +
			"Godta vilkårene for å lytte til opptakene.",
	},
	"se": {
		name: "Svenska", tag: "sv-SE",
		page: map[string]string{
			"title":           "Samtalsinspelningar",
			"language":        "Språk",
			"intro":           "Samtalsinspelningar har delats med dig. Begär en engångskod för att lyssna på dem: den skickas till den e-postadress som den här länken skickades till.",
			"requestCode":     "Begär engångskod",
			"codeSent":        "Om den här länken är din är en kod på väg till din inkorg.",
			"codeLabel":       "Engångskod",
			"submitCode":      "Fortsätt",
			"codeFormat":      "Ange de 6 siffrorna från mejlet.",
			"wrongCode":       "Fel kod. Återstående försök: {n}.",
			"codeUsedUp":      "Fel kod. Begär en ny kod.",
			"tooMany":         "För många försök. Vänta en stund och försök igen.",
			"tooManyUntil":    "För många försök. Försök igen efter kl. {time}.",
			"termsTitle":      "Användarvillkor",
			"termsFallback":   "Användarvillkoren finns inte på ditt språk och visas därför på engelska.",
			"acceptTerms":     "Jag godkänner",
			"recordingsTitle": "Inspelningar",
			"date":            "Datum",
			"time":            "Tid",
			"duration":        "Längd",
			"accessNumber":    "Accessnummer",
			"queueName":       "Kö",
			"accessEnds":      "Tillgänglig till",
			"expired":         "Den här länken har gått ut.",
			"sessionEnded":    "Din session har avslutats — begär en ny kod.",
			"error":           "Något gick fel. Försök igen.",
			"noScript":        "Den här sidan behöver JavaScript för att spela upp inspelningarna.",
			"loading":         "Laddar …",
			"playerLabel":     "Inspelning",
		},
		codeSubject: "Din engångskod",
		codeBody:    "Din engångskod är {{code}}. Koden är giltig i 10 minuter.",
		extSubject:  "Samtalsinspelningar delade med dig",
		extBody: "Hej,\n\nSamtalsinspelningar har delats med dig. Öppna den här länken för att lyssna på dem:\n\n{{link}}\n\n" +
			"Begär en engångskod på sidan; den skickas till den här e-postadressen. Inspelningarna är tillgängliga till {{expires}}.\n\n" +
			"Det här meddelandet skickades automatiskt; svara inte på det.",
		intSubject: "Samtalsinspelningar till dig",
		intBody: "Hej {{recipient}},\n\nJag vill gärna att du lyssnar på de här samtalsinspelningarna i arkivet:\n\n{{link}}\n\n" +
			"Logga in med ditt eget konto för att öppna dem.\n\n{{myname}}",
		terms: "De här inspelningarna delas med dig endast för att du själv ska lyssna på dem.\n\n" +
			"- Du får inte spela in, kopiera eller ladda ner inspelningarna, och du får inte dela dem eller deras innehåll med någon.\n" +
			"- All åtkomst och varje uppspelning loggas.\n" +
			"- Din åtkomst upphör det datum som visas på den här sidan.\n\n" +
			"Godkänn villkoren för att lyssna på inspelningarna.",
	},
	"dk": {
		name: "Dansk", tag: "da-DK",
		page: map[string]string{
			"title":           "Samtaleoptagelser",
			"language":        "Sprog",
			"intro":           "Der er delt samtaleoptagelser med dig. Bed om en engangskode for at lytte til dem: den sendes til den e-mailadresse, som dette link blev sendt til.",
			"requestCode":     "Bed om engangskode",
			"codeSent":        "Hvis dette link er dit, er en kode på vej til din indbakke.",
			"codeLabel":       "Engangskode",
			"submitCode":      "Fortsæt",
			"codeFormat":      "Indtast de 6 cifre fra e-mailen.",
			"wrongCode":       "Forkert kode. Resterende forsøg: {n}.",
			"codeUsedUp":      "Forkert kode. Bed om en ny kode.",
			"tooMany":         "For mange forsøg. Vent lidt, og prøv igen.",
			"tooManyUntil":    "For mange forsøg. Prøv igen efter kl. {time}.",
			"termsTitle":      "Brugsvilkår",
			"termsFallback":   "Brugsvilkårene findes ikke på dit sprog og vises derfor på engelsk.",
			"acceptTerms":     "Jeg accepterer",
			"recordingsTitle": "Optagelser",
			"date":            "Dato",
			"time":            "Tidspunkt",
			"duration":        "Varighed",
			"accessNumber":    "Adgangsnummer",
			"queueName":       "Kø",
			"accessEnds":      "Tilgængelig indtil",
			"expired":         "Dette link er udløbet.",
			"sessionEnded":    "Din session er udløbet — bed om en ny kode.",
			"error":           "Noget gik galt. Prøv igen.",
			"noScript":        "Denne side kræver JavaScript for at afspille optagelserne.",
			"loading":         "Indlæser …",
			"playerLabel":     "Optagelse",
		},
		codeSubject: "Din engangskode",
		codeBody:    "Din engangskode er {{code}}. Koden er gyldig i 10 minutter.",
		extSubject:  "Samtaleoptagelser delt med dig",
		extBody: "Hej,\n\nDer er delt samtaleoptagelser med dig. Åbn dette link for at lytte til dem:\n\n{{link}}\n\n" +
			"Bed om en engangskode på siden; den sendes til denne e-mailadresse. Optagelserne er tilgængelige indtil {{expires}}.\n\n" +
			"Denne besked er sendt automatisk; svar venligst ikke på den.",
		intSubject: "Samtaleoptagelser til dig",
		intBody: "Hej {{recipient}},\n\nJeg vil gerne have, at du lytter til disse samtaleoptagelser i arkivet:\n\n{{link}}\n\n" +
			"Log ind med din egen konto for at åbne dem.\n\n{{myname}}",
		terms: "Disse optagelser er delt med dig, udelukkende så du selv kan lytte til dem.\n\n" +
			"- Du må ikke optage, kopiere eller downloade optagelserne, og du må ikke dele dem eller deres indhold med nogen.\n" +
			"- Al adgang og hver afspilning logges.\n" +
			"- Din adgang ophører på den dato, der vises på denne side.\n\n" +
			"Accepter vilkårene for at lytte til optagelserne.",
	},
	"fi": {
		name: "Suomi", tag: "fi-FI",
		page: map[string]string{
			"title":           "Puhelutallenteet",
			"language":        "Kieli",
			"intro":           "Kanssasi on jaettu puhelutallenteita. Pyydä kertakäyttökoodi kuunnellaksesi niitä: se lähetetään sähköpostiosoitteeseen, johon tämä linkki lähetettiin.",
			"requestCode":     "Pyydä kertakäyttökoodi",
			"codeSent":        "Jos tämä linkki on sinun, koodi on matkalla sähköpostiisi.",
			"codeLabel":       "Kertakäyttökoodi",
			"submitCode":      "Jatka",
			"codeFormat":      "Anna sähköpostissa olevat 6 numeroa.",
			"wrongCode":       "Väärä koodi. Yrityksiä jäljellä: {n}.",
			"codeUsedUp":      "Väärä koodi. Pyydä uusi koodi.",
			"tooMany":         "Liian monta yritystä. Odota hetki ja yritä uudelleen.",
			"tooManyUntil":    "Liian monta yritystä. Yritä uudelleen kello {time} jälkeen.",
			"termsTitle":      "Käyttöehdot",
			"termsFallback":   "Käyttöehtoja ei ole saatavilla kielelläsi, joten ne näytetään englanniksi.",
			"acceptTerms":     "Hyväksyn",
			"recordingsTitle": "Tallenteet",
			"date":            "Päivämäärä",
			"time":            "Aika",
			"duration":        "Kesto",
			"accessNumber":    "Palvelunumero",
			"queueName":       "Jono",
			"accessEnds":      "Pääsy päättyy",
			"expired":         "Tämä linkki on vanhentunut.",
			"sessionEnded":    "Istuntosi on päättynyt — pyydä uusi koodi.",
			"error":           "Jokin meni vikaan. Yritä uudelleen.",
			"noScript":        "Tallenteiden toistaminen tällä sivulla vaatii JavaScriptin.",
			"loading":         "Ladataan…",
			"playerLabel":     "Tallenne",
		},
		codeSubject: "Kertakäyttökoodisi",
		codeBody:    "Kertakäyttökoodisi on {{code}}. Koodi on voimassa 10 minuuttia.",
		extSubject:  "Kanssasi jaetut puhelutallenteet",
		extBody: "Hei,\n\nKanssasi on jaettu puhelutallenteita. Avaa tämä linkki kuunnellaksesi niitä:\n\n{{link}}\n\n" +
			"Pyydä sivulla kertakäyttökoodi; se lähetetään tähän sähköpostiosoitteeseen. Tallenteet ovat kuunneltavissa {{expires}} asti.\n\n" +
			"Tämä viesti on lähetetty automaattisesti; älä vastaa siihen.",
		intSubject: "Puhelutallenteita sinulle",
		intBody: "Hei {{recipient}},\n\nKuuntelisitko nämä arkiston puhelutallenteet:\n\n{{link}}\n\n" +
			"Kirjaudu sisään omalla tunnuksellasi avataksesi ne.\n\n{{myname}}",
		terms: "Nämä tallenteet on jaettu sinulle vain henkilökohtaista kuuntelua varten.\n\n" +
			"- Älä tallenna, kopioi tai lataa tallenteita äläkä jaa niitä tai niiden sisältöä kenellekään.\n" +
			"- Jokainen käyttökerta ja jokainen toisto kirjataan lokiin.\n" +
			"- Pääsysi päättyy tällä sivulla näytettynä päivänä.\n\n" +
			"Hyväksy ehdot kuunnellaksesi tallenteita.",
	},
	"lv": {
		name: "Latviešu", tag: "lv-LV",
		page: map[string]string{
			"title":           "Sarunu ieraksti",
			"language":        "Valoda",
			"intro":           "Ar jums ir kopīgoti sarunu ieraksti. Lai tos noklausītos, pieprasiet vienreizējo kodu: tas tiks nosūtīts uz e-pasta adresi, uz kuru tika nosūtīta šī saite.",
			"requestCode":     "Pieprasīt vienreizējo kodu",
			"codeSent":        "Ja šī saite ir jūsu, kods jau ir ceļā uz jūsu pastkastīti.",
			"codeLabel":       "Vienreizējais kods",
			"submitCode":      "Turpināt",
			"codeFormat":      "Ievadiet 6 ciparus no e-pasta.",
			"wrongCode":       "Nepareizs kods. Atlikušie mēģinājumi: {n}.",
			"codeUsedUp":      "Nepareizs kods. Pieprasiet jaunu kodu.",
			"tooMany":         "Pārāk daudz mēģinājumu. Lūdzu, nedaudz uzgaidiet un mēģiniet vēlreiz.",
			"tooManyUntil":    "Pārāk daudz mēģinājumu. Mēģiniet vēlreiz pēc plkst. {time}.",
			"termsTitle":      "Lietošanas noteikumi",
			"termsFallback":   "Lietošanas noteikumi jūsu valodā nav pieejami, tāpēc tie ir parādīti angļu valodā.",
			"acceptTerms":     "Piekrītu",
			"recordingsTitle": "Ieraksti",
			"date":            "Datums",
			"time":            "Laiks",
			"duration":        "Ilgums",
			"accessNumber":    "Piekļuves numurs",
			"queueName":       "Rinda",
			"accessEnds":      "Pieejams līdz",
			"expired":         "Šīs saites derīguma termiņš ir beidzies.",
			"sessionEnded":    "Jūsu sesija ir beigusies — pieprasiet jaunu kodu.",
			"error":           "Radās kļūda. Lūdzu, mēģiniet vēlreiz.",
			"noScript":        "Lai atskaņotu ierakstus, šai lapai nepieciešams JavaScript.",
			"loading":         "Ielādē…",
			"playerLabel":     "Ieraksts",
		},
		codeSubject: "Jūsu vienreizējais kods",
		codeBody:    "Jūsu vienreizējais kods ir {{code}}. Kods ir derīgs 10 minūtes.",
		extSubject:  "Ar jums kopīgoti sarunu ieraksti",
		extBody: "Labdien!\n\nAr jums ir kopīgoti sarunu ieraksti. Atveriet šo saiti, lai tos noklausītos:\n\n{{link}}\n\n" +
			"Lapā pieprasiet vienreizējo kodu; tas tiks nosūtīts uz šo e-pasta adresi. Ieraksti ir pieejami līdz {{expires}}.\n\n" +
			"Šis ziņojums ir nosūtīts automātiski; lūdzu, neatbildiet uz to.",
		intSubject: "Sarunu ieraksti jums",
		intBody: "Labdien, {{recipient}}!\n\nLūdzu, noklausieties šos sarunu ierakstus arhīvā:\n\n{{link}}\n\n" +
			"Lai tos atvērtu, piesakieties ar savu kontu.\n\n{{myname}}",
		terms: "Šie ieraksti ir kopīgoti ar jums tikai personīgai noklausīšanai.\n\n" +
			"- Neierakstiet, nekopējiet un nelejupielādējiet ierakstus, kā arī nedalieties ar tiem vai to saturu ne ar vienu.\n" +
			"- Katra piekļuve un katra atskaņošana tiek reģistrēta.\n" +
			"- Jūsu piekļuve beidzas šajā lapā norādītajā datumā.\n\n" +
			"Lai noklausītos ierakstus, piekrītiet šiem noteikumiem.",
	},
	"lt": {
		name: "Lietuvių", tag: "lt-LT",
		page: map[string]string{
			"title":           "Pokalbių įrašai",
			"language":        "Kalba",
			"intro":           "Su jumis pasidalyta pokalbių įrašais. Norėdami juos išklausyti, paprašykite vienkartinio kodo: jis bus išsiųstas el. pašto adresu, kuriuo buvo išsiųsta ši nuoroda.",
			"requestCode":     "Prašyti vienkartinio kodo",
			"codeSent":        "Jei ši nuoroda skirta jums, kodas jau siunčiamas į jūsų pašto dėžutę.",
			"codeLabel":       "Vienkartinis kodas",
			"submitCode":      "Tęsti",
			"codeFormat":      "Įveskite 6 skaitmenis iš laiško.",
			"wrongCode":       "Neteisingas kodas. Liko bandymų: {n}.",
			"codeUsedUp":      "Neteisingas kodas. Paprašykite naujo kodo.",
			"tooMany":         "Per daug bandymų. Palaukite ir bandykite dar kartą.",
			"tooManyUntil":    "Per daug bandymų. Bandykite dar kartą po {time}.",
			"termsTitle":      "Naudojimo sąlygos",
			"termsFallback":   "Naudojimo sąlygų jūsų kalba nėra, todėl jos rodomos anglų kalba.",
			"acceptTerms":     "Sutinku",
			"recordingsTitle": "Įrašai",
			"date":            "Data",
			"time":            "Laikas",
			"duration":        "Trukmė",
			"accessNumber":    "Prieigos numeris",
			"queueName":       "Eilė",
			"accessEnds":      "Pasiekiama iki",
			"expired":         "Šios nuorodos galiojimas baigėsi.",
			"sessionEnded":    "Jūsų sesija baigėsi — paprašykite naujo kodo.",
			"error":           "Įvyko klaida. Bandykite dar kartą.",
			"noScript":        "Kad būtų galima atkurti įrašus, šiam puslapiui reikia JavaScript.",
			"loading":         "Įkeliama…",
			"playerLabel":     "Įrašas",
		},
		codeSubject: "Jūsų vienkartinis kodas",
		codeBody:    "Jūsų vienkartinis kodas yra {{code}}. Kodas galioja 10 minučių.",
		extSubject:  "Su jumis pasidalyta pokalbių įrašais",
		extBody: "Sveiki,\n\nSu jumis pasidalyta pokalbių įrašais. Atidarykite šią nuorodą, kad juos išklausytumėte:\n\n{{link}}\n\n" +
			"Puslapyje paprašykite vienkartinio kodo; jis bus išsiųstas šiuo el. pašto adresu. Įrašai pasiekiami iki {{expires}}.\n\n" +
			"Šis laiškas išsiųstas automatiškai; prašome į jį neatsakyti.",
		intSubject: "Pokalbių įrašai jums",
		intBody: "Sveiki, {{recipient}},\n\nPrašau išklausyti šiuos pokalbių įrašus archyve:\n\n{{link}}\n\n" +
			"Norėdami juos atidaryti, prisijunkite savo paskyra.\n\n{{myname}}",
		terms: "Šie įrašai pasidalyti su jumis tik asmeniniam klausymui.\n\n" +
			"- Neįrašinėkite, nekopijuokite ir neatsisiųskite įrašų ir nesidalykite jais ar jų turiniu su niekuo.\n" +
			"- Kiekviena prieiga ir kiekvienas perklausymas registruojami.\n" +
			"- Jūsų prieiga baigiasi šiame puslapyje nurodytą dieną.\n\n" +
			"Norėdami išklausyti įrašus, sutikite su šiomis sąlygomis.",
	},
	"ee": {
		name: "Eesti", tag: "et-EE",
		page: map[string]string{
			"title":           "Kõnesalvestised",
			"language":        "Keel",
			"intro":           "Teiega on jagatud kõnesalvestisi. Nende kuulamiseks küsige ühekordset koodi: see saadetakse e-posti aadressile, kuhu see link saadeti.",
			"requestCode":     "Küsi ühekordset koodi",
			"codeSent":        "Kui see link on teie oma, on kood teel teie postkasti.",
			"codeLabel":       "Ühekordne kood",
			"submitCode":      "Jätka",
			"codeFormat":      "Sisestage e-kirjas olevad 6 numbrit.",
			"wrongCode":       "Vale kood. Katseid jäänud: {n}.",
			"codeUsedUp":      "Vale kood. Küsige uut koodi.",
			"tooMany":         "Liiga palju katseid. Oodake veidi ja proovige uuesti.",
			"tooManyUntil":    "Liiga palju katseid. Proovige uuesti pärast kella {time}.",
			"termsTitle":      "Kasutustingimused",
			"termsFallback":   "Kasutustingimused ei ole teie keeles saadaval, seetõttu kuvatakse need inglise keeles.",
			"acceptTerms":     "Nõustun",
			"recordingsTitle": "Salvestised",
			"date":            "Kuupäev",
			"time":            "Kellaaeg",
			"duration":        "Kestus",
			"accessNumber":    "Juurdepääsunumber",
			"queueName":       "Järjekord",
			"accessEnds":      "Saadaval kuni",
			"expired":         "Selle lingi kehtivus on lõppenud.",
			"sessionEnded":    "Teie seanss on lõppenud — küsige uut koodi.",
			"error":           "Midagi läks valesti. Proovige uuesti.",
			"noScript":        "Salvestiste esitamiseks vajab see leht JavaScripti.",
			"loading":         "Laadimine…",
			"playerLabel":     "Salvestis",
		},
		codeSubject: "Teie ühekordne kood",
		codeBody:    "Teie ühekordne kood on {{code}}. Kood kehtib 10 minutit.",
		extSubject:  "Teiega jagatud kõnesalvestised",
		extBody: "Tere!\n\nTeiega on jagatud kõnesalvestisi. Nende kuulamiseks avage see link:\n\n{{link}}\n\n" +
			"Küsige lehel ühekordset koodi; see saadetakse sellele e-posti aadressile. Salvestised on saadaval kuni {{expires}}.\n\n" +
			"See kiri saadeti automaatselt; palun ärge sellele vastake.",
		intSubject: "Kõnesalvestised teile",
		intBody: "Tere, {{recipient}}!\n\nPalun kuulake neid arhiivis olevaid kõnesalvestisi:\n\n{{link}}\n\n" +
			"Nende avamiseks logige sisse oma kontoga.\n\n{{myname}}",
		terms: "Need salvestised on teiega jagatud ainult isiklikuks kuulamiseks.\n\n" +
			"- Ärge salvestage, kopeerige ega laadige salvestisi alla ning ärge jagage neid ega nende sisu kellegagi.\n" +
			"- Iga juurdepääs ja iga esitus logitakse.\n" +
			"- Teie juurdepääs lõpeb sellel lehel näidatud kuupäeval.\n\n" +
			"Salvestiste kuulamiseks nõustuge nende tingimustega.",
	},
}
