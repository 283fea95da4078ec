"""ansible/flash.yml: writes an image plus first-boot files into a file target, and refuses unsafe targets.

The image is a small stand-in made here (MBR, a FAT boot partition, a data partition), not Raspberry
Pi OS. Refusals run with --check, so a refusal bug can never write to a real disk.
Needs xz, sfdisk (fdisk), mkfs.vfat (dosfstools) and mtools; the loop-device rows need root.

    .venv/bin/pytest -q tests/deploy/test_flash.py
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ANSIBLE_DIR, tool

MB = 1 << 20
BOOT_START = 2048  # sectors
BOOT_SECTORS = 32768  # 16 MiB
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenaudTestKeyOnlyForTests benaud@test"
TOOLS = ["xz", "sfdisk", "mkfs.vfat", "mcopy", "mtype", "lsblk"]
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs xz, fdisk, dosfstools and mtools (tests/deploy/setup_host_deps.sh)",
)


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[Path, str, bytes]:
    """A 40 MiB disk image with a FAT boot partition (holding config.txt), compressed with xz."""
    work = tmp_path_factory.mktemp("image")
    raw = work / "raspios-lite-standin.img"
    with open(raw, "wb") as fh:
        fh.truncate(40 * MB)
    sh(
        "sfdisk",
        "-q",
        str(raw),
        input=f"label: dos\nstart={BOOT_START}, size={BOOT_SECTORS}, type=c\n"
        f"start={BOOT_START + BOOT_SECTORS}, type=83\n",
    )
    boot = work / "boot.fat"
    with open(boot, "wb") as fh:
        fh.truncate(BOOT_SECTORS * 512)
    sh("mkfs.vfat", "-n", "bootfs", str(boot))
    (work / "config.txt").write_text("arm_64bit=1\n")
    sh("mcopy", "-i", str(boot), str(work / "config.txt"), "::/", env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    root_bytes = os.urandom(2 * MB)  # recognisable content in the "root" partition
    with open(raw, "r+b") as fh:
        fh.seek(BOOT_START * 512)
        fh.write(boot.read_bytes())
        fh.seek((BOOT_START + BOOT_SECTORS) * 512)
        fh.write(root_bytes)
    sh("xz", "-0", "-T1", "-k", str(raw))
    xz = raw.with_suffix(".img.xz")
    return xz, hashlib.sha256(xz.read_bytes()).hexdigest(), raw.read_bytes()


def flash(extra: dict, check: bool = False) -> subprocess.CompletedProcess:
    args = [tool("ansible-playbook"), "flash.yml"] + (["--check"] if check else [])
    args += ["-e", json.dumps({key: str(value) for key, value in extra.items()})]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(args, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=300)


def good_vars(image, target) -> dict:
    xz, sha, _raw = image
    return {
        "flash_image": xz,
        "flash_image_sha256": sha,
        "flash_target": target,
        "flash_allow_file_target": "true",
        "flash_hostname": "benaud-test",
        "flash_user": "umpire",
        "flash_locale": "en_AU.UTF-8",
        "flash_timezone": "Australia/Sydney",
        "flash_ssh_public_key": KEY,
    }


def test_flash_writes_the_image_and_first_boot_files_into_a_file_target(image, tmp_path):
    target = tmp_path / "card.img"
    run = flash(good_vars(image, target))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "(matches)" in run.stdout
    written, raw = target.read_bytes(), image[2]
    assert len(written) == len(raw)
    boot = slice(BOOT_START * 512, (BOOT_START + BOOT_SECTORS) * 512)
    # Everything outside the boot partition is the image, byte for byte; first-boot files went into the FAT.
    assert (
        hashlib.sha256(written[: boot.start] + written[boot.stop :]).hexdigest()
        == hashlib.sha256(raw[: boot.start] + raw[boot.stop :]).hexdigest()
    )
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    fat = f"{target}@@{BOOT_START * 512}"

    def read(name):
        return sh("mtype", "-i", fat, f"::/{name}", env=env).stdout

    custom, user_data = read("custom.toml"), read("user-data")
    assert 'hostname = "benaud-test"' in custom and 'name = "umpire"' in custom and KEY in custom
    assert 'timezone = "Australia/Sydney"' in custom and "password_authentication = false" in custom
    assert "hostname: benaud-test" in user_data and "locale: en_AU.UTF-8" in user_data
    assert "- name: umpire" in user_data and KEY in user_data and "ssh_pwauth: false" in user_data
    assert "benaud-test" in read("meta-data")
    assert read("config.txt") == "arm_64bit=1\n"  # the image's own boot files are kept
    sh("mdir", "-i", fat, "::/ssh", env=env)


def test_check_mode_accepts_an_allowed_file_target(image, tmp_path):
    run = flash(good_vars(image, tmp_path / "card.img"), check=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert not (tmp_path / "card.img").exists()


@pytest.fixture
def loop_device(tmp_path):
    """A 64 MiB loop device (not removable, not mounted); needs root."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("loop-device refusals need root and losetup")
    backing = tmp_path / "loop.img"
    with open(backing, "wb") as fh:
        fh.truncate(64 * MB)
    dev = sh("losetup", "--find", "--show", str(backing)).stdout.strip()
    mount = tmp_path / "mnt"
    try:
        yield dev, mount
    finally:
        if os.path.ismount(mount):
            sh("umount", str(mount))
        sh("losetup", "-d", dev)


def system_disk() -> str | None:
    src = subprocess.run(
        ["findmnt", "-n", "-o", "SOURCE", "--target", "/"], capture_output=True, text=True
    ).stdout.strip()
    if not src.startswith("/dev/"):
        return None
    out = subprocess.run(["lsblk", "-n", "-s", "-o", "PATH,TYPE", src], capture_output=True, text=True).stdout
    disks = [line.split()[0] for line in out.splitlines() if line.split()[1:] == ["disk"]]
    return disks[0] if disks else None


# (case, how to set it up, what the refusal says)
REFUSALS = [
    ("no sha256", {"flash_image_sha256": ""}, "Give -e flash_image="),
    ("wrong sha256", {"flash_image_sha256": "0" * 64}, "REFUSED:"),
    (
        "file target not allowed",
        {"flash_allow_file_target": "false"},
        "is not a removable block device (a regular file)",
    ),
    (
        "missing target",
        {"flash_target": "/dev/suksham-no-such-card", "flash_allow_file_target": "false"},
        "is not a removable block device (missing)",
    ),
    ("character device", {"flash_target": "/dev/null"}, "is not a removable block device (not a block device)"),
    ("no SSH key", {"flash_ssh_public_key": ""}, "Give -e flash_image="),
]


@pytest.mark.parametrize("case,override,message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_flash_refuses(image, tmp_path, case, override, message):
    target = tmp_path / "card.img"
    target.write_bytes(b"")  # an existing regular file, as a user might pass by mistake
    run = flash({**good_vars(image, target), **override}, check=True)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr, run.stdout[-3000:]
    if case == "wrong sha256":
        assert "has sha256 " + image[1] in run.stdout
    assert target.read_bytes() == b""


def test_flash_refuses_the_system_disk(image):
    disk = system_disk()
    if disk is None:
        pytest.skip("/ is not on a block device here")
    run = flash({**good_vars(image, disk), "flash_allow_file_target": "false"}, check=True)
    assert run.returncode != 0 and "holds the running system" in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize(
    "case,message",
    [
        ("mounted", "is mounted at"),
        ("too big", "is larger than flash_max_target_gb=0.01 GB"),
        ("not removable", "is not a removable device"),
    ],
)
def test_flash_refuses_block_devices(image, loop_device, case, message):
    dev, mount = loop_device
    extra = {**good_vars(image, dev), "flash_allow_file_target": "false"}
    if case == "mounted":
        sh("mkfs.ext4", "-q", dev)  # ext4: every Linux kernel mounts it (vfat may be a missing module)
        mount.mkdir()
        sh("mount", dev, str(mount))
    if case == "too big":
        extra["flash_max_target_gb"] = "0.01"
    run = flash(extra, check=True)
    assert run.returncode != 0 and message in run.stdout, run.stdout[-3000:]
