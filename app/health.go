package app

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// handleHealth: the process is alive.
func (s *Server) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReady: the database answers and every migration is applied; 503
// with the reason otherwise. It recovers without a restart.
func (s *Server) handleReady(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := s.ping(ctx); err != nil {
		return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "database unreachable"})
	}
	if !s.migrated.Load() {
		n, err := s.migrator.Pending(ctx)
		if err != nil {
			return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "cannot read migration status"})
		}
		if n > 0 {
			return c.Status(503).JSON(fiber.Map{"status": "unavailable", "reason": "migrations pending", "pending": n})
		}
		s.migrated.Store(true) // a running binary's migration set never grows
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

func (s *Server) ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}
