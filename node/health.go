package node

import (
	"context"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
)

// Mesh reports every node this node follows (its province's; all on an
// operator node) as the bundle certifies them and their heartbeats show
// them, with the problems operators must act on (see node/health).
func (n *Node) Mesh() []api.CourtHealth { return n.health.Mesh() }

// Alerts lists the node-level problems operators and the court must act
// on (see health.Service.Alerts).
func (n *Node) Alerts() []api.Alert { return n.health.Alerts(n.ctx) }

// AllAlerts is every alert this node raises, critical first (see
// health.Service.AllAlerts).
func (n *Node) AllAlerts(ctx context.Context) []api.Alert { return n.health.AllAlerts(ctx) }

// Dashboard computes the supervision dashboard (see
// health.Service.Dashboard).
func (n *Node) Dashboard(ctx context.Context) (dashboard.Dashboard, error) {
	return n.health.Dashboard(ctx)
}
