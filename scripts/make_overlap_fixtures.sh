#!/usr/bin/env bash
# Regenerate audio-fixtures/overlap/: real recordings of sounds a listener makes over a
# speaker (backchannels, laughs, coughs, clicks, a gasp), 16 kHz mono s16 WAV, for the barge-in
# bench and tests. One-off: the results are committed; this documents where each came from and
# rebuilds them byte for byte (about 440 MB of .deb files are downloaded, nothing installed).
# Needs: apt-get (package lists present), dpkg-deb, tar, sox with ogg/vorbis (Debian's sox has
# it), python3, sha256sum.
# Usage: bash scripts/make_overlap_fixtures.sh [OUTDIR]   (default: audio-fixtures/overlap)
set -euo pipefail

out=$(readlink -f "${1:-$(dirname "$0")/../audio-fixtures/overlap}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Pinned Debian 12 (bookworm) packages, downloaded as .deb only.
pkgs=(
  "megaglest-data=3.13.0-3"            # 242 MB, CC-BY-SA-3.0
  "hedgewars-data=1.0.2-6"             # 145 MB, sounds GFDL-1.3 (debian/copyright)
  "bucklespring-data=1.4.0-2"          # 2.6 MB, GPL-2+
  "tuxpaint-data=1:0.9.28-sdl2-1"      # 7.9 MB, GPL-2+
  "openarena-data=0.8.5split-14"       # 44 MB, GPL-2+
)
(cd "$work" && apt-get download "${pkgs[@]}" >/dev/null)

# x DEB PATH...  -> extract only the named files into $work/root
x() {
  local deb; deb=$(ls "$work"/"$1"_*.deb); shift
  mkdir -p "$work/root"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" "${@/#/./}"
}

MG=usr/share/games/megaglest/techs/megapack
HW=usr/share/games/hedgewars/Data/Sounds/voices
x megaglest-data \
  $MG/factions/norsemen/units/spearman/sounds/swordman_ack1.wav \
  $MG/factions/indian/units/archer/sounds/archer_ack3.wav \
  $MG/factions/indian/units/archer/sounds/archer_ack7.wav \
  $MG/commondata/sounds/worker_ack1.wav \
  $MG/commondata/sounds/technician_ack13.wav \
  $MG/factions/magic/units/summoner/sounds/summoner_ack8.wav \
  $MG/commondata/sounds/guard_ack7.wav \
  $MG/factions/norsemen/units/spearman_berserk/sounds/swordman_ack3.wav \
  $MG/factions/magic/units/initiate/sounds/initiate_ack1.wav \
  $MG/commondata/sounds/guard_ack2.wav \
  $MG/commondata/sounds/swordman_select7.wav \
  $MG/commondata/sounds/archer_ack13.wav \
  $MG/commondata/sounds/axe_thrower_ack2.wav \
  $MG/commondata/sounds/axe_thrower_ack5.wav \
  $MG/commondata/sounds/guard_attack13.wav \
  usr/share/games/megaglest/data/core/menu/sound/click_a.wav
x hedgewars-data \
  $HW/Mobster/Hmm.ogg $HW/Pirate/Hmm.ogg $HW/British/Hmm.ogg \
  $HW/Default_ru/PoisonCough.ogg $HW/HillBilly/PoisonCough.ogg $HW/Default/PoisonCough.ogg \
  $HW/Default_pl/Laugh.ogg $HW/Mobster/Laugh.ogg $HW/Russian/Laugh.ogg
x bucklespring-data usr/share/buckle/wav/1c-0.wav usr/share/buckle/wav/39-0.wav
x tuxpaint-data usr/share/tuxpaint/sounds/giggle.wav
x openarena-data usr/share/games/openarena/baseoa/pak0.pk3
(cd "$work/root" && python3 -c "import zipfile; zipfile.ZipFile('usr/share/games/openarena/baseoa/pak0.pk3').extract('sound/player/sarge/gasp.wav', '.')")

# conv SRC OUT: whole file -> 16 kHz mono s16; -R = repeatable dither, -G = guard against clipping
conv() { sox -R -G "$work/root/$1" -c 1 -r 16000 -b 16 -e signed-integer "$out/$2"; }

conv $MG/factions/norsemen/units/spearman/sounds/swordman_ack1.wav          bc_yeah_mg_norse_spearman.wav
conv $MG/factions/indian/units/archer/sounds/archer_ack3.wav                bc_yeah_mg_indian_archer_a.wav
conv $MG/factions/indian/units/archer/sounds/archer_ack7.wav                bc_yeah_mg_indian_archer_b.wav
conv $MG/commondata/sounds/worker_ack1.wav                                  bc_okay_mg_worker.wav
conv $MG/commondata/sounds/technician_ack13.wav                             bc_okay_mg_technician.wav
conv $MG/factions/magic/units/summoner/sounds/summoner_ack8.wav             bc_okay_mg_summoner.wav
conv $MG/commondata/sounds/guard_ack7.wav                                   bc_okay_mg_guard.wav
conv $MG/factions/norsemen/units/spearman_berserk/sounds/swordman_ack3.wav  bc_right_mg_norse_berserk.wav
conv $MG/factions/magic/units/initiate/sounds/initiate_ack1.wav             bc_alright_mg_initiate.wav
conv $MG/commondata/sounds/guard_ack2.wav                                   bc_sure_mg_guard.wav
conv $MG/commondata/sounds/swordman_select7.wav                             bc_yes_mg_swordman.wav
conv $MG/commondata/sounds/archer_ack13.wav                                 bc_yes_mg_archer.wav
conv $MG/commondata/sounds/axe_thrower_ack2.wav                             bc_yep_mg_axe_thrower.wav
conv $MG/commondata/sounds/axe_thrower_ack5.wav                             bc_oh_mg_axe_thrower.wav
conv $HW/Mobster/Hmm.ogg                                                    bc_hmm_hw_mobster.wav
conv $HW/Pirate/Hmm.ogg                                                     bc_hmm_hw_pirate.wav
conv $HW/British/Hmm.ogg                                                    bc_hmm_hw_british.wav
conv $HW/Default_ru/PoisonCough.ogg                                         cough_hw_default_ru.wav
conv $HW/HillBilly/PoisonCough.ogg                                          cough_hw_hillbilly.wav
conv $HW/Default/PoisonCough.ogg                                            cough_hw_default.wav
conv $HW/Default_pl/Laugh.ogg                                               laugh_hw_default_pl.wav
conv $HW/Mobster/Laugh.ogg                                                  laugh_hw_mobster.wav
conv $HW/Russian/Laugh.ogg                                                  laugh_hw_russian.wav
conv usr/share/tuxpaint/sounds/giggle.wav                                   laugh_tuxpaint_giggle.wav
conv usr/share/buckle/wav/1c-0.wav                                          click_buckle_enter.wav
conv usr/share/buckle/wav/39-0.wav                                          click_buckle_space.wav
conv usr/share/games/megaglest/data/core/menu/sound/click_a.wav             click_mg_menu_a.wav
conv $MG/commondata/sounds/guard_attack13.wav                               gasp_mg_guard.wav
conv sound/player/sarge/gasp.wav                                            gasp_openarena_sarge.wav

(cd "$out" && sha256sum -- *.wav > SHA256SUMS)
echo "wrote $(ls "$out"/*.wav | wc -l) WAVs to $out"
