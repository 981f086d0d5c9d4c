package app

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportDirection enforces DESIGN.md's import rules on every non-test
// Go file of the module (golangci-lint's depguard checks the same in CI;
// this test keeps them in `make test`): nothing imports app but cmd; web
// imports no other package of ours but models; views import no GORM and
// nothing of the server; models and the engines (admin, chat, kv) know
// nothing of the server around them.
func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	engineDeny := []string{"tienda/app/web", "tienda/app/api", "tienda/app/auth", "tienda/app/stack",
		"tienda/app/adminpanel", "tienda/app/config", "tienda/app/obs"}
	rules := []struct {
		name  string
		dir   string // package directory prefix, relative to the module
		deny  []string
		exact bool // deny only the exact paths, not their subpackages
	}{
		{name: "composition root", dir: "", deny: []string{"tienda/app"}, exact: true},
		{name: "web", dir: "app/web/", deny: []string{"tienda/app", "tienda/views"}},
		{name: "views", dir: "views/", deny: []string{"gorm.io", "tienda/app"}},
		{name: "models", dir: "models/", deny: []string{"tienda/app", "tienda/views"}},
		{name: "admin engine", dir: "app/admin/", deny: engineDeny},
		{name: "chat", dir: "app/chat/", deny: engineDeny},
		{name: "kv", dir: "app/kv/", deny: engineDeny},
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || rel == "static" || rel == "docs" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, r := range rules {
				if !strings.HasPrefix(rel, r.dir) || (r.name == "composition root" && strings.HasPrefix(rel, "cmd/")) {
					continue
				}
				for _, deny := range r.deny {
					if p == deny || (!r.exact && strings.HasPrefix(p, deny+"/")) {
						t.Errorf("%s imports %s (rule %q)", rel, p, r.name)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files checked: the walk is broken", files)
	}
}
