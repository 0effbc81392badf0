package court

import (
	"slices"
	"strings"
)

// StaffRole is what a person working at a court may do through its node
// (a named account's role). The names are the court's own words; the
// command line also accepts the ASCII aliases of ParseStaffRole.
type StaffRole string

// The roles of a court's staff. What each may do is the local API's one
// policy (node/api/policy.go); in short:
const (
	// RoleClerk (书记员): import cases, update assets, fetch dossiers.
	RoleClerk StaffRole = "书记员"
	// RoleJudge (承办法官): offer, accept, hand over and the other steps
	// of a transfer; sees the personal data of the cases assigned to him
	// or her, and only of those.
	RoleJudge StaffRole = "承办法官"
	// RoleDirector (执行局长): approves what the court's rules say needs
	// approval: a handover overriding the 30-day guard.
	RoleDirector StaffRole = "执行局长"
	// RoleSuperiorJudge (上级法院审判员): decides transfers, issues
	// directives, spot checks and reviews.
	RoleSuperiorJudge StaffRole = "上级法院审判员"
	// RoleIT (IT): configuration, trust bundle, backup, the accounts; no
	// personal data.
	RoleIT StaffRole = "IT"
	// RoleAuditor (审计): the audit export and evidence; no personal data.
	RoleAuditor StaffRole = "审计"
	// RoleOperator (operator): the dashboard and the mesh's health.
	RoleOperator StaffRole = "operator"
)

// StaffRoles lists every role, in a fixed order.
var StaffRoles = []StaffRole{RoleClerk, RoleJudge, RoleDirector, RoleSuperiorJudge, RoleIT, RoleAuditor, RoleOperator}

// staffAliases are the ASCII names a shell without Chinese input may use.
var staffAliases = map[string]StaffRole{
	"clerk": RoleClerk, "judge": RoleJudge, "director": RoleDirector, "superior-judge": RoleSuperiorJudge,
	"it": RoleIT, "auditor": RoleAuditor, "operator": RoleOperator,
}

// StaffRoleAlias is the ASCII alias of r ("" if none).
func StaffRoleAlias(r StaffRole) string {
	for a, v := range staffAliases {
		if v == r {
			return a
		}
	}
	return ""
}

// ParseStaffRole reads a role by its name (书记员, 承办法官, 执行局长,
// 上级法院审判员, IT, 审计, operator) or its alias (clerk, judge,
// director, superior-judge, it, auditor, operator).
func ParseStaffRole(s string) (StaffRole, error) {
	s = strings.TrimSpace(s)
	if slices.Contains(StaffRoles, StaffRole(s)) {
		return StaffRole(s), nil
	}
	if r, ok := staffAliases[strings.ToLower(s)]; ok {
		return r, nil
	}
	names := make([]string, 0, len(StaffRoles))
	for _, r := range StaffRoles {
		names = append(names, string(r)+" ("+StaffRoleAlias(r)+")")
	}
	return "", Errorf(ErrInvalid, "unknown role %q; the roles are %s", s, strings.Join(names, ", "))
}
