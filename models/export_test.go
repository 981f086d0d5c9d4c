package models_test

import (
	"io/fs"
	"strings"

	"tienda"
)

func migrationsDir(d string) ([]string, error) {
	entries, err := fs.ReadDir(tienda.Migrations, "migrations/"+d)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		v, _, _ := strings.Cut(e.Name(), "_")
		out = append(out, v)
	}
	return out, nil
}
