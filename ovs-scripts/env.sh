# Points ovs-vsctl, ovs-ofctl and ovs-appctl of the current shell at the
# sandbox that "sandbox.sh start DIR PREFIX" made:
#
#     source ovs-scripts/env.sh DIR
#
# The tools then find DIR/db.sock, DIR/BRIDGE.mgmt and DIR/ovs-vswitchd.pid
# through OVS_RUNDIR; unix sockets work from any network namespace.
# Sourced, so it sets no shell options and returns instead of exiting.

if [ -z "${1:-}" ] || [ ! -f "$1/sandbox.state" ]; then
    echo "usage: source ovs-scripts/env.sh DIR (a running sandbox)" >&2
    return 1 2>/dev/null || exit 1
fi

VMACD_SANDBOX=$(cd "$1" && pwd)
VMACD_SANDBOX_NS=$(sed -n 's/^prefix //p' "$VMACD_SANDBOX/sandbox.state")sw
export VMACD_SANDBOX VMACD_SANDBOX_NS
export OVS_RUNDIR=$VMACD_SANDBOX
export OVS_DBDIR=$VMACD_SANDBOX
export OVS_LOGDIR=$VMACD_SANDBOX
export OVS_SYSCONFDIR=$VMACD_SANDBOX

echo "OVS tools now use sandbox $VMACD_SANDBOX (switch netns" \
     "$VMACD_SANDBOX_NS); controller bridges need: ovs-ofctl -O OpenFlow15"
