#!/bin/sh
# The benchmark backend, started by shoal as the one instance of service "backend":
#   backend.sh PORT DIR NGINX
# writes DIR/nginx.conf for PORT from backend-nginx.conf.in and execs nginx in the foreground
# (same pid, so shoal supervises and stops nginx itself).
set -eu
port=$1
dir=$2
nginx=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/tmp"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$here/backend-nginx.conf.in" >"$dir/nginx.conf"
exec "$nginx" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
