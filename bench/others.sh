# shellcheck shell=bash
# bench/others.sh - other migration tools, measured beside strata on the
# same workload and against the same lower bound, when they are installed.
# Sourced by run.sh, which provides log, die, timed, record, record_paired,
# peak_kb, pg_url, pg_recreate, $PSQL, $SQLITE3 and $WORK. Nothing here is
# needed: a tool that is not installed is not measured.
#
# Each tool gets the workload in its own format, converted from the
# migrations gen.sh wrote, with each migration in a transaction of its own
# as strata and raw.sql have them, and runs its own "migrate to the latest"
# command: `dbmate migrate`, `sql-migrate up`, `sqitch deploy`,
# `alembic upgrade head`.

OTHER_KNOWN="dbmate sql-migrate sqitch alembic"

# other_bin TOOL: the program to time, or fails. npm's dbmate is a Node
# script that starts the Go binary of its platform's package: that binary
# is timed, as the real psql is rather than Debian's Perl wrapper.
other_bin() {
    local p pkg c arch
    p=$(command -v "$1" 2>/dev/null) || return 1
    if [ "$1" = dbmate ] && [ "$(head -c 2 "$p")" = '#!' ]; then
        case $(uname -m) in
        x86_64) arch=x64 ;;
        aarch64) arch=arm64 ;;
        *) arch=$(uname -m) ;;
        esac
        # dbmate/dist/cli.js; the platform's package is installed inside
        # dbmate's (npm -g) or beside it (a project's node_modules)
        pkg=$(dirname "$(dirname "$(readlink -f "$p")")")
        for c in "$pkg/node_modules/@dbmate/linux-$arch/bin/dbmate" \
            "$pkg/../@dbmate/linux-$arch/bin/dbmate"; do
            [ -x "$c" ] && { readlink -f "$c"; return 0; }
        done
        return 1
    fi
    printf '%s\n' "$p"
}

# other_drivers TOOL: fails, saying what is missing, when TOOL cannot reach
# both databases (its database drivers are separate packages). Asked of
# the interpreter the tool's script names, not whichever is first in PATH.
other_drivers() {
    local interp
    interp=$(head -n 1 "${OTHER_BIN[$1]}" | sed -n 's/^#! *\([^ ]*\).*/\1/p')
    case $1 in
    sqitch)
        "${interp:-perl}" -MDBD::SQLite -e1 2>/dev/null || { echo "DBD::SQLite (libdbd-sqlite3-perl)"; return 1; }
        "${interp:-perl}" -MDBD::Pg -e1 2>/dev/null || { echo "DBD::Pg (libdbd-pg-perl)"; return 1; } ;;
    alembic)
        "${interp:-python3}" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 (python3-psycopg2)"; return 1; } ;;
    esac
    return 0
}

# other_version TOOL: one line naming the tool and its version. Debian's
# sql-migrate calls itself 1.0.0 whatever its snapshot: the package's
# version says which.
other_version() {
    local v
    case $1 in
    sql-migrate)
        v=$(dpkg-query -W -f='${Version}' sql-migrate 2>/dev/null) &&
            echo "sql-migrate (Debian package $v)" && return 0
        v=$("${OTHER_BIN[sql-migrate]}" --version 2>&1) && echo "sql-migrate $v" ;;
    *) "${OTHER_BIN[$1]}" --version 2>/dev/null ;;
    esac | head -n 1
}

# urldecode TEXT: TEXT with its %XX escapes decoded.
urldecode() {
    printf '%b' "${1//%/\\x}"
}

# others_find: OTHERS, the tools to measure (BENCH_OTHERS, a list of names,
# or "none"; all of OTHER_KNOWN that are installed by default), their
# programs in OTHER_BIN and versions in OTHER_VERSIONS; and the parts of
# STRATA_PG_URL the tools spell each in their own way (OPG_*: as written in
# the URL, and OPG_PASS_PLAIN decoded).
declare -A OTHER_BIN
others_find() {
    local t ver missing want=${BENCH_OTHERS:-$OTHER_KNOWN}
    OTHERS="" OTHER_VERSIONS=""
    [ "$want" = none ] && return 0
    for t in $want; do
        case " $OTHER_KNOWN " in
        *" $t "*) ;;
        *) die "BENCH_OTHERS: unknown tool '$t' (known: $OTHER_KNOWN)" ;;
        esac
        if ! OTHER_BIN[$t]=$(other_bin "$t"); then
            [ -n "${BENCH_OTHERS:-}" ] && die "BENCH_OTHERS names $t, which is not installed"
            command -v "$t" >/dev/null 2>&1 &&
                log "other tools: $t is a launcher whose binary is missing; not measured"
            continue
        fi
        if ! missing=$(other_drivers "$t"); then
            [ -n "${BENCH_OTHERS:-}" ] && die "BENCH_OTHERS names $t, which lacks $missing"
            log "other tools: $t lacks $missing; not measured"
            continue
        fi
        ver=$(other_version "$t") || ver="$t (version unknown)"
        OTHERS="$OTHERS $t"
        OTHER_VERSIONS="$OTHER_VERSIONS$t|${ver:-$t (version unknown)}
"
    done
    OTHERS=${OTHERS# }
    # sqitch records who deployed, and reads no configuration of this
    # machine's users
    export SQITCH_FULLNAME=bench SQITCH_EMAIL=bench@localhost \
        SQITCH_CONFIG=/dev/null SQITCH_USER_CONFIG=/dev/null SQITCH_SYSTEM_CONFIG=/dev/null
    # postgresql://USER:PASSWORD@/DB?host=SOCKETDIR&port=PORT, as
    # scripts/with-postgres.sh writes it
    OPG_USER=$(sed -nE 's|^postgres(ql)?://([^:@/]*)[:@].*|\2|p' <<<"$STRATA_PG_URL")
    OPG_PASS=$(sed -nE 's|^postgres(ql)?://[^:@/]*:([^@]*)@.*|\2|p' <<<"$STRATA_PG_URL")
    OPG_HOST=$(sed -nE 's|.*[?&]host=([^&]*).*|\1|p' <<<"$STRATA_PG_URL")
    OPG_PORT=$(sed -nE 's|.*[?&]port=([^&]*).*|\1|p' <<<"$STRATA_PG_URL")
    OPG_PORT=${OPG_PORT:-5432}
    OPG_HOST=$(urldecode "$OPG_HOST")
    OPG_PASS_PLAIN=$(urldecode "$OPG_PASS")
    if [ -n "$OTHERS" ] && { [ -z "$OPG_USER" ] || [ -z "$OPG_HOST" ]; }; then
        log "other tools: STRATA_PG_URL is not of the form" \
            "postgresql://USER:PASSWORD@/DB?host=DIR&port=PORT; PostgreSQL not measured for them"
        OPG_USER=""
    fi
}

# other_prep TOOL DIR: writes TOOL's project for the workload in
# DIR/migrations into DIR/other/TOOL.
other_prep() {
    local t=$1 src=$2/migrations o=$2/other/$1 up down f base i=0 prev=""
    rm -rf "$o"
    mkdir -p "$o"
    case $t in
    sqitch)
        mkdir -p "$o/deploy" "$o/revert"
        printf '%%syntax-version=1.0.0\n%%project=bench\n\n' >"$o/sqitch.plan"
        ;;
    alembic)
        mkdir -p "$o/versions"
        printf '[alembic]\nscript_location = %s\n' "$o" >"$o/alembic.ini"
        # One transaction per migration, as strata and raw.sql do (alembic
        # runs them all in one by default); the URL comes from -x url=.
        cat >"$o/env.py" <<'PY'
from alembic import context
from sqlalchemy import create_engine, event, pool

url = context.get_x_argument(as_dictionary=True)["url"]
engine = create_engine(url, poolclass=pool.NullPool)
if engine.dialect.name == "sqlite":
    # Python's sqlite3 sends no BEGIN before DDL, so each CREATE would
    # commit on its own: SQLAlchemy's recipe hands BEGIN to SQLAlchemy
    @event.listens_for(engine, "connect")
    def no_implicit_begin(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def explicit_begin(conn):
        conn.exec_driver_sql("BEGIN")

with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
PY
        ;;
    esac
    for f in "$src"/*.up.sql; do
        base=$(basename "$f" .up.sql)
        i=$((i + 1))
        up=$(<"$f")
        down=$(<"$src/$base.down.sql")
        case $t in
        dbmate)
            printf -- '-- migrate:up\n%s\n\n-- migrate:down\n%s\n' "$up" "$down" >"$o/$base.sql"
            ;;
        sql-migrate)
            printf -- '-- +migrate Up\n%s\n\n-- +migrate Down\n%s\n' "$up" "$down" >"$o/$base.sql"
            ;;
        sqitch)
            # sqitch runs each script through the database's own client;
            # the script holds its transaction, as sqitch's templates do
            printf 'BEGIN;\n%s\nCOMMIT;\n' "$up" >"$o/deploy/$base.sql"
            printf 'BEGIN;\n%s\nCOMMIT;\n' "$down" >"$o/revert/$base.sql"
            printf '%s 2026-01-01T00:00:00Z bench <bench@localhost> # %s\n' \
                "$base" "$base" >>"$o/sqitch.plan"
            ;;
        alembic)
            # one op.execute() per statement: Python's sqlite3 runs one
            # statement per call
            {
                printf 'from alembic import op\n\nrevision = "%05d"\n' "$i"
                if [ -n "$prev" ]; then
                    printf 'down_revision = "%s"\n' "$prev"
                else
                    printf 'down_revision = None\n'
                fi
                printf 'branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n'
                printf '%s\n' "$up" | awk '{ sub(/;$/, ""); gsub(/"/, "\\\""); printf "    op.execute(\"%s\")\n", $0 }'
                printf '\n\ndef downgrade():\n'
                printf '%s\n' "$down" | awk '{ sub(/;$/, ""); gsub(/"/, "\\\""); printf "    op.execute(\"%s\")\n", $0 }'
            } >"$o/versions/${base}.py"
            prev=$(printf '%05d' "$i")
            ;;
        esac
    done
}

# other_db BACKEND TOOL N: where TOOL's database for this N lives: an SQLite
# file in a directory of its own (sqitch keeps its registry beside it), or
# a PostgreSQL database name.
other_db() {
    case $1 in
    sqlite) echo "$WORK/n$3/other/$2.db/db.sqlite" ;;
    pg) echo "bench_other" ;;
    esac
}

# other_reset BACKEND DB: an empty database.
other_reset() {
    case $1 in
    sqlite) rm -rf "$(dirname "$2")" && mkdir -p "$(dirname "$2")" ;;
    pg) pg_recreate "$2" ;;
    esac
}

# other_up TOOL BACKEND DB DIR: TOOL migrates DB to the latest migration of
# its project in DIR/other/TOOL; run under the command in the array OW
# (/usr/bin/time, for the peak memory) when that is set.
OW=()
other_up() {
    local t=$1 b=$2 db=$3 o=$4/other/$1 bin=${OTHER_BIN[$1]}
    case $t:$b in
    dbmate:sqlite)
        "${OW[@]}" "$bin" --url "sqlite:$db" --migrations-dir "$o" --no-dump-schema migrate ;;
    dbmate:pg)
        "${OW[@]}" "$bin" --url "postgres://$OPG_USER:$OPG_PASS@:$OPG_PORT/$db?socket=$OPG_HOST&sslmode=disable" \
            --migrations-dir "$o" --no-dump-schema migrate ;;
    sql-migrate:*)
        "${OW[@]}" "$bin" up -config="$o/dbconfig-$b.yml" -env=bench ;;
    sqitch:sqlite)
        "${OW[@]}" "$bin" --chdir "$o" deploy --client "$SQLITE3" "db:sqlite:$db" ;;
    sqitch:pg)
        PGHOST=$OPG_HOST PGPORT=$OPG_PORT PGPASSWORD=$OPG_PASS_PLAIN \
            "${OW[@]}" "$bin" --chdir "$o" deploy --client "$PSQL" "db:pg://$OPG_USER@/$db" ;;
    alembic:sqlite)
        "${OW[@]}" "$bin" -c "$o/alembic.ini" -x "url=sqlite:///$db" upgrade head ;;
    alembic:pg)
        "${OW[@]}" "$bin" -c "$o/alembic.ini" \
            -x "url=postgresql+psycopg2://$OPG_USER:$OPG_PASS@/$db?host=$OPG_HOST&port=$OPG_PORT" \
            upgrade head ;;
    esac
}

# other_config TOOL BACKEND DB DIR: a tool's configuration file, where it
# has one.
other_config() {
    local o=$4/other/$1
    case $1:$2 in
    sql-migrate:sqlite)
        printf 'bench:\n  dialect: sqlite3\n  datasource: %s\n  dir: %s\n' "$3" "$o" \
            >"$o/dbconfig-sqlite.yml" ;;
    sql-migrate:pg)
        # a libpq-style DSN: values quoted, ' and \ escaped; then the whole
        # as a YAML single-quoted scalar, where ' is written twice
        local pw=${OPG_PASS_PLAIN//\\/\\\\} host=${OPG_HOST//\\/\\\\} dsn
        pw=${pw//\'/\\\'} host=${host//\'/\\\'}
        dsn="host='$host' port=$OPG_PORT user=$OPG_USER password='$pw' dbname=$3 sslmode=disable"
        printf "bench:\n  dialect: postgres\n  datasource: '%s'\n  dir: %s\n" \
            "${dsn//\'/\'\'}" "$o" >"$o/dbconfig-pg.yml" ;;
    esac
}

# other_raw BACKEND DB DIR: the lower bound of a fresh apply on DB (the
# same as strata's: raw.sql through the database's own client).
other_raw() {
    case $1 in
    sqlite) sh -c '"$1" -bail "$2" <"$3"' sh "$SQLITE3" "$2" "$3/raw.sql" ;;
    pg) "$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$3/raw.sql" "$(pg_url "$2")" ;;
    esac
}

# other_select1 BACKEND DB: the lower bound of a no-op.
other_select1() {
    case $1 in
    sqlite) "$SQLITE3" "$2" 'select 1' ;;
    pg) "$PSQL" -X -q -At -c 'select 1' "$(pg_url "$2")" ;;
    esac
}

# others_measure N DIR: each tool in OTHERS on the workload of N in DIR:
# a fresh apply paired with the raw client (N <= APPLY_MAX; above it the
# database is built untimed), then no-op runs each paired with `select 1`
# in a random order, and the no-op's peak memory.
others_measure() {
    local n=$1 d=$2 t b db k
    local runs=${BENCH_OTHERS_APPLY_RUNS:-1} noops=${BENCH_OTHERS_NOOP_RUNS:-11}
    for t in $OTHERS; do
        other_prep "$t" "$d"
        for b in sqlite pg; do
            [ "$b" = pg ] && [ -z "$OPG_USER" ] && continue
            db=$(other_db "$b" "$t" "$n")
            other_config "$t" "$b" "$db" "$d"
            # S, the tool's runs, and R, the lower bound's, are read by
            # record_paired (run.sh)
            # shellcheck disable=SC2034
            S=() R=()
            if [ "$n" -gt "$APPLY_MAX" ]; then
                log "N=$n $b $t: building the database (untimed)"
                other_reset "$b" "$db"
                other_up "$t" "$b" "$db" "$d" >/dev/null 2>"$WORK/.err" ||
                    { cat "$WORK/.err" >&2; die "$t failed to apply N=$n on $b"; }
            else
                log "N=$n $b $t: fresh apply x $runs (raw, $t)"
                for _ in $(seq "$runs"); do
                    other_reset "$b" "$db"
                    timed R other_raw "$b" "$db" "$d"
                    other_reset "$b" "$db"
                    timed S other_up "$t" "$b" "$db" "$d"
                done
                record "$b" "$n" apply "$t" us "${S[@]}"
                record "$b" "$n" apply "raw_beside_$t" us "${R[@]}"
                record_paired "$b" "$n" apply R "ratio_paired_$t"
            fi
            log "N=$n $b $t: no-op x $noops (paired with select 1)"
            # shellcheck disable=SC2034
            S=() R=()
            for _ in $(seq "$noops"); do
                for k in $(printf '%s\n' S R | shuf); do
                    case $k in
                    S) timed S other_up "$t" "$b" "$db" "$d" ;;
                    R) timed R other_select1 "$b" "$db" ;;
                    esac
                done
            done
            record "$b" "$n" noop_up "$t" us "${S[@]}"
            record "$b" "$n" noop_up "raw_beside_$t" us "${R[@]}"
            record_paired "$b" "$n" noop_up R "ratio_paired_$t"
            OW=(/usr/bin/time -f %M -o "$WORK/.time")
            other_up "$t" "$b" "$db" "$d" >/dev/null 2>&1 || die "$t failed under time"
            OW=()
            record "$b" "$n" noop_up "$t" kb "$(tail -n 1 "$WORK/.time")"
        done
    done
}
