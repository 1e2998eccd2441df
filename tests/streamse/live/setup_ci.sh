#!/usr/bin/env bash
# Installs what tests/streamse/live needs on a fresh Debian CI machine (run as root, before pytest).
# apt: PortAudio (sounddevice does not bundle it on Linux) and JACK 2 (dummy backend = virtual
# sound card). pip: sounddevice + JACK-Client (the test harness that plays/records the virtual ports).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive   # jackd2's postinst asks a debconf question otherwise
apt-get update
apt-get install -y --no-install-recommends libportaudio2 jackd2 pipewire pipewire-bin \
    wireplumber pipewire-jack pipewire-pulse pulseaudio-utils dbus
python -m pip install "sounddevice>=0.4.6" "JACK-Client>=0.5" soundfile soxr pytest
