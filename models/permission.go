package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Permissions are data, as in Django's auth: a codename per model and
// action ("change_product"), held by groups and by users directly. The
// codenames are this list; the auth_* tables say who holds which.
// Superusers hold every permission without any row.

// The four actions of a model's permissions.
const (
	ActionView   = "view"
	ActionAdd    = "add"
	ActionChange = "change"
	ActionDelete = "delete"
)

// StaffGroup is the group holding the rights staff had before permissions
// were data (migration 00007); new staff users join it.
const StaffGroup = "Staff"

// PermissionInfo is one permission that exists.
type PermissionInfo struct {
	Codename   string
	Action     string
	ObjectType string
	// Label reads "Can change product".
	Label string
}

// permissionObjects are the object types with permissions, and the
// actions each has (the chat can only be used: "view").
var permissionObjects = []struct {
	objectType string
	actions    []string
}{
	{"product", []string{ActionView, ActionAdd, ActionChange, ActionDelete}},
	{"document", []string{ActionView, ActionAdd, ActionChange, ActionDelete}},
	{"user", []string{ActionView, ActionAdd, ActionChange, ActionDelete}},
	{"group", []string{ActionView, ActionAdd, ActionChange, ActionDelete}},
	{"chat", []string{ActionView}},
}

// Permissions lists every permission, by object type then action.
func Permissions() []PermissionInfo {
	var out []PermissionInfo
	for _, o := range permissionObjects {
		for _, a := range o.actions {
			label := "Can " + a + " " + o.objectType
			if o.objectType == "chat" {
				label = "Can use the chat"
			}
			out = append(out, PermissionInfo{Codename: Codename(a, o.objectType), Action: a, ObjectType: o.objectType, Label: label})
		}
	}
	return out
}

// Codename is the permission's name: "change_product".
func Codename(action, objectType string) string { return action + "_" + objectType }

// KnownPermission reports whether codename names a permission that exists.
func KnownPermission(codename string) bool {
	return slices.ContainsFunc(Permissions(), func(p PermissionInfo) bool { return p.Codename == codename })
}

// PermSet is a set of permission codenames: what a user holds, directly
// and through its groups.
type PermSet map[string]struct{}

// NewPermSet is the set of codes.
func NewPermSet(codes ...string) PermSet {
	s := make(PermSet, len(codes))
	for _, c := range codes {
		s[c] = struct{}{}
	}
	return s
}

// Has reports whether the set holds codename.
func (s PermSet) Has(codename string) bool {
	_, ok := s[codename]
	return ok
}

// Sorted lists the set's codenames in order.
func (s PermSet) Sorted() []string {
	out := make([]string, 0, len(s))
	for c := range s {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// PermissionDenied is the error of a refused action: it names the
// permission that was missing.
type PermissionDenied struct {
	Codename string
}

func (e *PermissionDenied) Error() string { return "permission denied: needs " + e.Codename }

// Require returns a *PermissionDenied unless u may do action to objectType.
func Require(u *User, action, objectType string) error {
	if Permission(u, action, objectType) {
		return nil
	}
	return &PermissionDenied{Codename: Codename(action, objectType)}
}

// Permission decides what a user may do to a kind of object. It is the one
// rule used by the API, GraphQL and the admin alike: an inactive user
// nothing, a superuser everything, anyone else what its permission set
// holds (Store.LoadPermissions fills it). As in Django, who may change a
// kind of object may also view it. Staff status only opens the admin.
func Permission(u *User, action, objectType string) bool {
	if u == nil || !u.IsActive {
		return false
	}
	if u.IsSuperuser {
		return true
	}
	if action == ActionView && u.Perms.Has(Codename(ActionChange, objectType)) {
		return true
	}
	return u.Perms.Has(Codename(action, objectType))
}

// Group is a named set of permissions that users join.
type Group struct {
	ID   int64  `json:"id" gorm:"primaryKey"`
	Name string `json:"name" validate:"required,min=1,max=150,singleline"`
	// Permissions are the group's codenames (nil: not loaded, left as stored).
	Permissions []string  `json:"permissions" gorm:"-"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TableName is the groups table.
func (Group) TableName() string { return "auth_groups" }

func (g *Group) GetID() int64      { return g.ID }
func (g *Group) GetVersion() int64 { return g.Version }
func (g *Group) String() string    { return g.Name }

// UniqueField names the field behind the table's unique index.
func (g *Group) UniqueField() string { return "name" }
func (g *Group) setMeta(id, version int64, created, updated time.Time) {
	g.ID, g.Version, g.CreatedAt, g.UpdatedAt = id, version, created, updated
}

type groupPermission struct {
	GroupID  int64
	Codename string
}

func (groupPermission) TableName() string { return "auth_group_permissions" }

type userGroup struct {
	UserID  int64
	GroupID int64
}

func (userGroup) TableName() string { return "auth_user_groups" }

type userPermission struct {
	UserID   int64
	Codename string
}

func (userPermission) TableName() string { return "auth_user_permissions" }

// relationHolder is a model whose sets (a user's groups, a group's
// permissions) live in tables of their own and are saved with it, in its
// transaction, so its history shows them changing.
type relationHolder interface {
	loadRelations(tx *gorm.DB) error
	// saveRelations replaces the stored sets with the record's; a nil set
	// was not loaded and is left as stored (taken from old, when given).
	saveRelations(tx *gorm.DB, old Entity) error
}

// LoadRelations fills e's sets (groups, permissions) when it has any.
func (s *Store) LoadRelations(ctx context.Context, e Entity) error {
	if r, ok := e.(relationHolder); ok {
		return r.loadRelations(s.DB.WithContext(ctx))
	}
	return nil
}

func (g *Group) loadRelations(tx *gorm.DB) error {
	codes := []string{}
	if err := tx.Model(&groupPermission{}).Where("group_id = ?", g.ID).Order("codename").Pluck("codename", &codes).Error; err != nil {
		return fmt.Errorf("load permissions of group %d: %w", g.ID, err)
	}
	g.Permissions = codes
	return nil
}

func (g *Group) saveRelations(tx *gorm.DB, old Entity) error {
	if g.Permissions == nil {
		if o, ok := old.(*Group); ok {
			g.Permissions = o.Permissions
		}
		return nil
	}
	codes, err := cleanCodenames(g.Permissions, "permissions")
	if err != nil {
		return err
	}
	g.Permissions = codes
	if err := tx.Where("group_id = ?", g.ID).Delete(&groupPermission{}).Error; err != nil {
		return fmt.Errorf("save permissions of group %s: %w", g.Name, err)
	}
	rows := make([]groupPermission, len(codes))
	for i, c := range codes {
		rows[i] = groupPermission{GroupID: g.ID, Codename: c}
	}
	if len(rows) > 0 {
		if err := tx.Create(&rows).Error; err != nil {
			return fmt.Errorf("save permissions of group %s: %w", g.Name, err)
		}
	}
	return nil
}

func (u *User) loadRelations(tx *gorm.DB) error {
	groups := []int64{}
	if err := tx.Model(&userGroup{}).Where("user_id = ?", u.ID).Order("group_id").Pluck("group_id", &groups).Error; err != nil {
		return fmt.Errorf("load groups of user %d: %w", u.ID, err)
	}
	codes := []string{}
	if err := tx.Model(&userPermission{}).Where("user_id = ?", u.ID).Order("codename").Pluck("codename", &codes).Error; err != nil {
		return fmt.Errorf("load permissions of user %d: %w", u.ID, err)
	}
	u.Groups, u.UserPermissions = groups, codes
	return nil
}

func (u *User) saveRelations(tx *gorm.DB, old Entity) error {
	prev, _ := old.(*User)
	if u.Groups == nil && prev != nil {
		u.Groups = prev.Groups
	} else if u.Groups != nil {
		ids := slices.Compact(slices.Sorted(slices.Values(u.Groups)))
		var n int64
		if len(ids) > 0 {
			if err := tx.Model(&Group{}).Where("id IN ?", ids).Count(&n).Error; err != nil {
				return fmt.Errorf("check groups: %w", err)
			}
		}
		if n != int64(len(ids)) {
			return FieldError("groups", "holds a group that does not exist")
		}
		u.Groups = ids
		if err := tx.Where("user_id = ?", u.ID).Delete(&userGroup{}).Error; err != nil {
			return fmt.Errorf("save groups of %s: %w", u.Username, err)
		}
		rows := make([]userGroup, len(ids))
		for i, id := range ids {
			rows[i] = userGroup{UserID: u.ID, GroupID: id}
		}
		if len(rows) > 0 {
			if err := tx.Create(&rows).Error; err != nil {
				return fmt.Errorf("save groups of %s: %w", u.Username, err)
			}
		}
	}
	if u.UserPermissions == nil && prev != nil {
		u.UserPermissions = prev.UserPermissions
	} else if u.UserPermissions != nil {
		codes, err := cleanCodenames(u.UserPermissions, "user_permissions")
		if err != nil {
			return err
		}
		u.UserPermissions = codes
		if err := tx.Where("user_id = ?", u.ID).Delete(&userPermission{}).Error; err != nil {
			return fmt.Errorf("save permissions of %s: %w", u.Username, err)
		}
		rows := make([]userPermission, len(codes))
		for i, c := range codes {
			rows[i] = userPermission{UserID: u.ID, Codename: c}
		}
		if len(rows) > 0 {
			if err := tx.Create(&rows).Error; err != nil {
				return fmt.Errorf("save permissions of %s: %w", u.Username, err)
			}
		}
	}
	return nil
}

// cleanCodenames sorts and deduplicates codes, refusing unknown ones
// (a field error on field).
func cleanCodenames(codes []string, field string) ([]string, error) {
	out := slices.Compact(slices.Sorted(slices.Values(codes)))
	var unknown []string
	for _, c := range out {
		if !KnownPermission(c) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		return nil, FieldError(field, "holds unknown permissions: "+strings.Join(unknown, ", "))
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// LoadPermissions fills u.Perms with every permission u holds, directly
// and through its groups, in one statement (none for a superuser, who
// holds them all, or an inactive user, who holds none).
func (s *Store) LoadPermissions(ctx context.Context, u *User) error {
	if u == nil {
		return nil
	}
	if u.IsSuperuser || !u.IsActive {
		u.Perms = PermSet{}
		return nil
	}
	var codes []string
	err := s.DB.WithContext(ctx).Raw(`SELECT codename FROM auth_user_permissions WHERE user_id = ?
UNION SELECT gp.codename FROM auth_group_permissions gp JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?`,
		u.ID, u.ID).Scan(&codes).Error
	if err != nil {
		return fmt.Errorf("permissions of %s: %w", u.Username, err)
	}
	u.Perms = NewPermSet(codes...)
	return nil
}

// GroupByName finds a group by its name, case-insensitively.
func (s *Store) GroupByName(ctx context.Context, name string) (*Group, error) {
	var g Group
	err := s.DB.WithContext(ctx).Where("lower(name) = lower(?)", name).Take(&g).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", name, err)
	}
	return &g, nil
}

// Groups lists every group by name.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	var out []Group
	if err := s.DB.WithContext(ctx).Order("name, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

// GroupList is the list spec for groups.
var GroupList = ListSpec{Table: "auth_groups", Sortable: []string{"id", "name"}, SearchFields: []string{"name"}, DefaultSort: "name"}
