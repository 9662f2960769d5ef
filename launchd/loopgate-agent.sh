#!/bin/bash
# Installs or removes the loopgate LaunchAgent for the current user.
#
#   loopgate-agent.sh install   [--bin PATH] [--config PATH] [--home DIR] [--label LABEL] [--socket ROUTE=IPV4:PORT]... [--reload] [--no-load] [--dry-run]
#   loopgate-agent.sh uninstall [--home DIR] [--label LABEL] [--no-load] [--dry-run]
#   loopgate-agent.sh status    [--home DIR] [--label LABEL]
#
# Written for macOS's /bin/bash 3.2 as much as for a current bash: no
# associative arrays, no ${var,,}, no `mapfile`, no empty "${array[@]}" under
# `set -u`. Exit status: 0 done, 1 refused or failed, 64 bad command line.
set -euo pipefail

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
readonly SCRIPT_DIR
readonly TEMPLATE="$SCRIPT_DIR/com.loopgate.agent.plist.in"
readonly DEFAULT_LABEL=com.loopgate.agent
readonly EX_USAGE=64
readonly EX_CONFIG=78  # what `loopgate check` returns for an invalid config

say() { printf 'loopgate-agent: %s\n' "$*"; }
warn() { printf 'loopgate-agent: %s\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

usage() {
    cat <<'EOF'
usage: loopgate-agent.sh install   [--bin PATH] [--config PATH] [--home DIR] [--label LABEL]
                                   [--socket ROUTE=IPV4:PORT]... [--reload] [--no-load] [--dry-run]
       loopgate-agent.sh uninstall [--home DIR] [--label LABEL] [--no-load] [--dry-run]
       loopgate-agent.sh status    [--home DIR] [--label LABEL]

install    checks the config with `loopgate check`, writes
           HOME/Library/LaunchAgents/LABEL.plist and, on macOS, (re)loads it.
uninstall  unloads the agent (macOS) and removes the plist; logs are kept.
status     whether the plist is there, whether launchd has the agent loaded and
           running (macOS), and the last lines of its log.

  --bin PATH     loopgate executable (default: `loopgate` found on PATH)
  --config PATH  config file (default: HOME/Library/Application Support/loopgate/loopgate.jsonc
                 on macOS, $XDG_CONFIG_HOME/loopgate/loopgate.jsonc elsewhere)
  --home DIR     home directory to install into (default: $HOME)
  --label LABEL  launchd label and plist name (default: com.loopgate.agent)
  --no-load      only write or remove the file; never call launchctl
  --reload       when the agent is loaded from the very same plist, send it SIGHUP
                 (it reads its config again, connections stay up) instead of
                 restarting it; `loopgate setup` uses this after adding a route
  --socket ROUTE=IPV4:PORT
                 let launchd hold that route's listening socket (repeat per route)
  --dry-run      print the plist it would write and every command it would run;
                 change nothing (a config that does not exist yet is noted, not refused)
EOF
}

usage_error() {
    warn "$*"
    usage >&2
    exit "$EX_USAGE"
}

is_macos() { [ "$(uname -s)" = Darwin ]; }

# Makes PATH absolute without resolving a symlink in its last component, so a
# Homebrew link like /opt/homebrew/bin/loopgate keeps pointing at whatever
# version is current instead of pinning the Cellar path of today's version.
absolute_path() {
    local path=$1 dir base
    case $path in
        */*) dir=${path%/*} base=${path##*/} ;;
        *) dir=. base=$path ;;
    esac
    [ -n "$dir" ] || dir=/
    dir=$(CDPATH='' cd -- "$dir" 2>/dev/null && pwd) || return 1
    if [ "$dir" = / ]; then
        printf '/%s\n' "$base"
    else
        printf '%s/%s\n' "$dir" "$base"
    fi
}

# Labels become a file name and a launchctl service target; keep them to the
# reverse-DNS alphabet launchd's own labels use.
check_label() {
    case $1 in
        '' | .* | *[!A-Za-z0-9._-]*)
            usage_error "invalid label '$1': use letters, digits, '.', '_' and '-'" ;;
    esac
}

# XML 1.0 cannot carry most control characters, and a newline in a path is far
# more likely a copy-paste accident than a real file name.
refuse_control_characters() {
    local what=$1 value=$2
    case $value in
        *[[:cntrl:]]*) die "$what contains a control character (newline, tab, ...): refusing to write it into a plist" ;;
    esac
}

# Runs `loopgate check` so a broken config is reported now, in the terminal,
# instead of as a restart loop in a log file nobody is watching.
validate_config() {
    local bin=$1 config=$2 output status
    if output=$("$bin" check --config "$config" 2>&1); then
        return 0
    else
        status=$?
    fi
    if [ "$status" -eq "$EX_CONFIG" ]; then
        warn "config $config is invalid; nothing was installed:"
    else
        warn "could not check config $config ('$bin check' exited with status $status); nothing was installed:"
    fi
    printf '%s\n' "${output:-(it printed nothing)}" | sed 's/^/    /' >&2
    exit 1
}

# Substitutes @NAME@ placeholders in one pass, so a value that happens to
# contain another placeholder's name is never substituted again. Values come
# through the environment because `awk -v` would interpret backslashes.
render_template() {
    LG_LABEL=$1 LG_LOOPGATE_BIN=$2 LG_CONFIG=$3 LG_LOG_FILE=$4 LG_SOCKETS=${5:-} awk '
        function replace_all(text, needle, value,   out, at) {
            out = ""
            while ((at = index(text, needle)) > 0) {
                out = out substr(text, 1, at - 1) value
                text = substr(text, at + length(needle))
            }
            return out text
        }
        function xml_escape(text) {
            text = replace_all(text, "&", "&amp;")  # first, so the entities below stay intact
            text = replace_all(text, "<", "&lt;")
            text = replace_all(text, ">", "&gt;")
            text = replace_all(text, "\"", "&quot;")
            return replace_all(text, "'\''", "&apos;")
        }
        function render(text,   out, at, rest, end_at, name) {
            out = ""
            while ((at = index(text, "@")) > 0) {
                out = out substr(text, 1, at - 1)
                rest = substr(text, at + 1)
                end_at = index(rest, "@")
                name = substr(rest, 1, end_at - 1)
                if (end_at > 0 && (name in value)) {
                    out = out value[name]
                    text = substr(rest, end_at + 1)
                } else {
                    out = out "@"
                    text = rest
                }
            }
            return out text
        }
        BEGIN {
            split("LABEL LOOPGATE_BIN CONFIG LOG_FILE", names, " ")
            for (i = 1; i <= 4; i++) value[names[i]] = xml_escape(ENVIRON["LG_" names[i]])
            value["SOCKETS"] = ENVIRON["LG_SOCKETS"]  # XML built from validated parts (socket_xml)
        }
        { print render($0) }
    ' <"$TEMPLATE"
}

# The plist's Sockets dictionary for ROUTE=HOST:PORT specs: one entry per
# route, keyed by its name, which loopgate asks launchd for at start. Each
# part is checked to be plain (a route name, an IPv4 address, a port), so
# nothing needs escaping.
socket_xml() {
    [ $# -gt 0 ] || return 0
    local spec name address host port
    printf '  <key>Sockets</key>\n  <dict>\n'
    for spec in "$@"; do
        name=${spec%%=*} address=${spec#*=}
        host=${address%:*} port=${address##*:}
        printf '%s' "$name" | grep -Eq '^[A-Za-z0-9_.-]{1,64}$' ||
            usage_error "--socket $spec: the route name must be 1 to 64 letters, digits, '_', '.' or '-'"
        printf '%s' "$host" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' ||
            usage_error "--socket $spec: expected ROUTE=IPV4:PORT, e.g. gateway=127.0.0.1:18789"
        printf '%s' "$port" | grep -Eq '^[0-9]{1,5}$' && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
            usage_error "--socket $spec: the port must be 1 to 65535"
        printf '    <key>%s</key>\n    <dict>\n' "$name"
        printf '      <key>SockNodeName</key>\n      <string>%s</string>\n' "$host"
        printf '      <key>SockServiceName</key>\n      <string>%s</string>\n' "$port"
        printf '    </dict>\n'
    done
    printf '  </dict>'
}

# Writes beside the target and renames, so launchd (which may read the
# directory at any login) never sees a half-written plist. launchd ignores a
# plist that others can write to, hence 644.
write_plist() {
    local plist=$1 tmp
    shift
    tmp=$(mktemp "${plist%/*}/.${plist##*/}.XXXXXX")
    if ! render_template "$@" >"$tmp" || ! chmod 644 "$tmp" || ! lint_plist "$tmp"; then
        rm -f -- "$tmp"
        die "could not write $plist"
    fi
    mv -f -- "$tmp" "$plist"
}

lint_plist() {
    if is_macos && command -v plutil >/dev/null 2>&1; then
        plutil -lint -s "$1"
    fi
}

gui_domain() { printf 'gui/%s\n' "$(id -u)"; }

service_loaded() { launchctl print "$1" >/dev/null 2>&1; }

# bootout can return while launchd is still tearing the service down; a
# bootstrap issued in that window fails with "5: Input/output error". Wait
# until launchd no longer knows the label (up to 10 s).
bootout_if_loaded() {
    local target=$1 tries=0
    service_loaded "$target" || return 0
    say "stopping the running agent ($target)"
    launchctl bootout "$target" 2>/dev/null || true
    while service_loaded "$target"; do
        [ "$tries" -lt 20 ] || die "launchd still has $target loaded after bootout; try: launchctl bootout $target"
        sleep 0.5
        tries=$((tries + 1))
    done
}

# `launchctl disable` is remembered by launchd even after the plist is gone,
# and a disabled service refuses bootstrap; installing means wanting it on.
# The retries cover the same teardown race as above.
load_agent() {
    local domain=$1 label=$2 plist=$3 tries=0
    launchctl enable "$domain/$label"
    until launchctl bootstrap "$domain" "$plist"; do
        tries=$((tries + 1))
        [ "$tries" -lt 3 ] || die "launchctl bootstrap $domain $plist failed; see: launchctl print $domain/$label"
        sleep 1
    done
}

install_agent() {
    local bin='' config='' home=$HOME label=$DEFAULT_LABEL load=1 dry_run=0 reload=0 sockets='' socket_specs=()
    while [ $# -gt 0 ]; do
        case $1 in
            --dry-run) dry_run=1; shift ;;
            --reload) reload=1; shift ;;
            --socket) [ $# -ge 2 ] || usage_error "--socket needs ROUTE=HOST:PORT"; socket_specs+=("$2"); shift 2 ;;
            --bin) [ $# -ge 2 ] || usage_error "--bin needs a path"; bin=$2; shift 2 ;;
            --config) [ $# -ge 2 ] || usage_error "--config needs a path"; config=$2; shift 2 ;;
            --home) [ $# -ge 2 ] || usage_error "--home needs a directory"; home=$2; shift 2 ;;
            --label) [ $# -ge 2 ] || usage_error "--label needs a value"; label=$2; shift 2 ;;
            --no-load) load=0; shift ;;
            *) usage_error "install: unknown argument '$1'" ;;
        esac
    done
    check_label "$label"
    [ -d "$home" ] || die "home directory $home does not exist"
    home=$(CDPATH='' cd -- "$home" && pwd)
    if [ -z "$bin" ]; then
        bin=$(command -v loopgate 2>/dev/null) || die "no loopgate on PATH; pass --bin PATH"
    fi
    # The same default as `loopgate run|check|probe|status|reload` (daemon/default_paths.cpp).
    if [ -z "$config" ]; then
        if is_macos; then config="$home/Library/Application Support/loopgate/loopgate.jsonc"
        else config="${XDG_CONFIG_HOME:-$home/.config}/loopgate/loopgate.jsonc"; fi
    fi

    if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
        die "loopgate binary $bin is not an executable file; nothing was installed"
    fi
    # A dry run may look ahead of the config: `loopgate setup --dry-run`
    # shows the agent for a config it has not written.
    local config_pending=0
    if [ "$dry_run" -eq 1 ] && [ ! -e "$config" ]; then
        config_pending=1
    else
        [ -f "$config" ] || die "config file $config does not exist; nothing was installed"
        [ -r "$config" ] || die "config file $config is not readable; nothing was installed"
    fi
    bin=$(absolute_path "$bin") || die "cannot resolve the directory of $bin"
    case $config_pending$config in
        1/*) ;;  # its directory may not exist yet either
        *) config=$(absolute_path "$config") || die "cannot resolve the directory of $config" ;;
    esac
    refuse_control_characters "binary path" "$bin"
    refuse_control_characters "config path" "$config"
    refuse_control_characters "home directory" "$home"
    if [ "$config_pending" -eq 1 ]; then
        say "dry run: $config does not exist yet; install checks it with '$bin check' first"
    else
        validate_config "$bin" "$config"
    fi
    if [ ${#socket_specs[@]} -gt 0 ]; then sockets=$(socket_xml "${socket_specs[@]}"); fi

    local agents_dir="$home/Library/LaunchAgents" log_dir="$home/Library/Logs/loopgate"
    local plist="$agents_dir/$label.plist" log_file="$log_dir/$label.log" unchanged=0
    if [ "$reload" -eq 1 ] && [ -f "$plist" ] &&
        render_template "$label" "$bin" "$config" "$log_file" "$sockets" | cmp -s - "$plist"; then
        unchanged=1
    fi
    if [ "$dry_run" -eq 1 ]; then
        say "dry run: nothing is changed"
        say "would run: mkdir -p $agents_dir $log_dir"
        say "would write $plist (mode 644):"
        render_template "$label" "$bin" "$config" "$log_file" "$sockets"
        if [ "$load" -eq 1 ] && is_macos; then
            local domain
            domain=$(gui_domain)
            if [ "$unchanged" -eq 1 ]; then
                say "would run: launchctl kill SIGHUP $domain/$label (the plist is unchanged; if it is running), else:"
            fi
            say "would run: launchctl bootout $domain/$label (if loaded)"
            say "would run: launchctl enable $domain/$label"
            say "would run: launchctl bootstrap $domain $plist"
        fi
        return 0
    fi
    mkdir -p -- "$agents_dir" "$log_dir"
    if [ "$unchanged" -eq 1 ]; then
        say "$plist is unchanged"
    else
        write_plist "$plist" "$label" "$bin" "$config" "$log_file" "$sockets"
        say "wrote $plist"
    fi
    say "logs go to $log_file"

    if [ "$load" -eq 0 ]; then
        say "not loaded (--no-load)"
    elif ! is_macos; then
        say "not loaded: launchctl exists only on macOS ($(uname -s) here)"
    else
        local domain
        domain=$(gui_domain)
        # kill fails when launchd has the job but no process (crashed, throttled):
        # then it is started afresh like any other.
        if [ "$unchanged" -eq 1 ] && service_loaded "$domain/$label" &&
            launchctl kill SIGHUP "$domain/$label" >/dev/null 2>&1; then
            say "sent SIGHUP to $domain/$label: it reads $config again (the plist is unchanged)"
        else
            bootout_if_loaded "$domain/$label"
            load_agent "$domain" "$label" "$plist"
            say "loaded $domain/$label; check it with: launchctl print $domain/$label"
        fi
    fi
}

uninstall_agent() {
    local home=$HOME label=$DEFAULT_LABEL load=1 dry_run=0
    while [ $# -gt 0 ]; do
        case $1 in
            --dry-run) dry_run=1; shift ;;
            --home) [ $# -ge 2 ] || usage_error "--home needs a directory"; home=$2; shift 2 ;;
            --label) [ $# -ge 2 ] || usage_error "--label needs a value"; label=$2; shift 2 ;;
            --no-load) load=0; shift ;;
            *) usage_error "uninstall: unknown argument '$1'" ;;
        esac
    done
    check_label "$label"
    [ -d "$home" ] || die "home directory $home does not exist"
    home=$(CDPATH='' cd -- "$home" && pwd)
    local plist="$home/Library/LaunchAgents/$label.plist"
    if [ "$dry_run" -eq 1 ]; then
        say "dry run: nothing is changed"
        if [ "$load" -eq 1 ] && is_macos; then say "would run: launchctl bootout $(gui_domain)/$label (if loaded)"; fi
        if [ -e "$plist" ]; then say "would remove $plist"; else say "$plist does not exist; nothing to remove"; fi
        return 0
    fi

    # Unload even when the file is already gone: a job stays loaded in
    # launchd until bootout or logout, whatever happens to its plist.
    if [ "$load" -eq 1 ] && is_macos; then
        bootout_if_loaded "$(gui_domain)/$label"
    fi
    if [ -e "$plist" ]; then
        rm -f -- "$plist"
        say "removed $plist"
    else
        say "$plist does not exist; nothing to remove"
    fi
    say "logs, if any, are kept in $home/Library/Logs/loopgate/"
}

status_agent() {
    local home=$HOME label=$DEFAULT_LABEL
    while [ $# -gt 0 ]; do
        case $1 in
            --home) [ $# -ge 2 ] || usage_error "--home needs a directory"; home=$2; shift 2 ;;
            --label) [ $# -ge 2 ] || usage_error "--label needs a value"; label=$2; shift 2 ;;
            *) usage_error "status: unknown argument '$1'" ;;
        esac
    done
    check_label "$label"
    local plist="$home/Library/LaunchAgents/$label.plist" log_file="$home/Library/Logs/loopgate/$label.log"
    local healthy=1
    if [ -e "$plist" ]; then say "installed: $plist"; else say "not installed: no $plist"; healthy=0; fi
    if is_macos; then
        local target
        target="$(gui_domain)/$label"
        if service_loaded "$target"; then
            say "loaded: $target"
            launchctl print "$target" 2>/dev/null | grep -E '^[[:space:]]*(state|pid|last exit code) =' || true
        else
            say "not loaded in launchd ($target)"
            healthy=0
        fi
    else
        say "launchd exists only on macOS ($(uname -s) here): nothing to ask"
    fi
    if [ -f "$log_file" ]; then
        say "last lines of $log_file:"
        tail -n 5 -- "$log_file"
    fi
    [ "$healthy" -eq 1 ]
}

main() {
    [ $# -ge 1 ] || usage_error "missing command"
    local command=$1
    shift
    case $command in
        install) install_agent "$@" ;;
        uninstall) uninstall_agent "$@" ;;
        status) status_agent "$@" ;;
        -h | --help | help) usage ;;
        *) usage_error "unknown command '$command'" ;;
    esac
}

main "$@"
