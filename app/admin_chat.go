package app

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"

	"tienda/views"
)

// chatPage renders the chat playground (/admin/chat). Messages are POSTed
// to /admin/chat/stream with the session's CSRF token and answered as the
// API's event stream.
func (p *adminPanel) chatPage(c *fiber.Ctx) error {
	if err := can(c, "view", "chat"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	prov := p.s.chat.provider
	def := prov.DefaultModel()
	list, err := prov.Models(ctx)
	if err != nil || len(list) == 0 {
		if err != nil {
			p.s.logFor(c).Warn("list chat models", "err", err)
		}
		list = []string{def}
	}
	vm := views.ChatPlayground{
		StreamURL: adminBase + "/chat/stream", DocumentURLPrefix: adminBase + "/documents/",
		Models: list, DefaultModel: def, Temperature: 0.2, TopK: 5, MaxMessageChars: maxMessageChars,
		CSRFHeader: csrf.HeaderName, CSRFToken: csrfToken(c), ScriptURL: p.assets.ChatJS,
	}
	return p.render(c, fiber.StatusOK, views.AdminChatPage(p.page(c, "Chat playground"), vm))
}
