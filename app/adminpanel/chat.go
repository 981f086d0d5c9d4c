package adminpanel

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"

	"tienda/app/chat"
	"tienda/app/web"
	"tienda/views"
)

// ChatPage renders the chat playground (/admin/chat). Messages are POSTed
// to /admin/chat/stream with the session's CSRF token and answered as the
// API's event stream.
func (p *Panel) ChatPage(c *fiber.Ctx) error {
	if err := web.Require(c, "view", "chat"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	prov := p.provider
	def := prov.DefaultModel()
	list, err := prov.Models(ctx)
	if err != nil || len(list) == 0 {
		if err != nil {
			web.Log(c, p.log).Warn("list chat models", "err", err)
		}
		list = []string{def}
	}
	vm := views.ChatPlayground{
		StreamURL: adminBase + "/chat/stream", DocumentURLPrefix: adminBase + "/documents/",
		Models: list, DefaultModel: def, Temperature: 0.2, TopK: 5, MaxMessageChars: chat.MaxMessageChars,
		CSRFHeader: csrf.HeaderName, CSRFToken: csrfToken(c), ScriptURL: p.assets.ChatJS,
	}
	return p.render(c, fiber.StatusOK, views.AdminChatPage(p.page(c, "Chat playground"), vm))
}
