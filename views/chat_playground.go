// Package views holds templ components and the plain view models they take.
package views

// ChatPlayground is the view model of the admin chat playground.
type ChatPlayground struct {
	// StreamURL is where the page POSTs messages (JSON) and reads the SSE answer.
	StreamURL string
	// DocumentURLPrefix starts a source's link; the document id is appended.
	DocumentURLPrefix string
	Models            []string
	DefaultModel      string
	SystemPrompt      string
	Temperature       float64
	TopK              int
	// MaxMessageChars bounds the message box.
	MaxMessageChars int
	// CSRFHeader and CSRFToken are sent with every POST.
	CSRFHeader string
	CSRFToken  string
	// ScriptURL is the chat client (static/js/chat.js).
	ScriptURL string
}
