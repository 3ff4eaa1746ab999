package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runwaydata/runway/shared/emulators"
)

// clockTick is the unit of the CPU times of /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuMeter reads the CPU time of this process, of the emulators it runs
// against, and of the whole machine, so that each window can say where
// the CPU went: to Runway and the callers in this process, to the
// emulators, or to other processes sharing the machine.
type cpuMeter struct {
	firestorePIDs, pubsubPIDs []int
}

// cpuTimes is a reading of a cpuMeter.
type cpuTimes struct {
	self, firestore, pubsub time.Duration
	machineBusy, machineAll time.Duration // every CPU of the machine
}

// newCPUMeter finds the emulators' Java processes by the port they serve
// (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST).
func newCPUMeter() *cpuMeter {
	m := &cpuMeter{}
	fsPort := portOf(os.Getenv(emulators.FirestoreHostEnv))
	psPort := portOf(os.Getenv(emulators.PubSubHostEnv))
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("java")) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for _, a := range args {
			switch {
			case fsPort != "" && a == "--port="+fsPort && bytes.Contains(cmdline, []byte("firestore")):
				m.firestorePIDs = append(m.firestorePIDs, pid)
			case psPort != "" && a == "--port="+psPort && bytes.Contains(cmdline, []byte("pubsub")):
				m.pubsubPIDs = append(m.pubsubPIDs, pid)
			}
		}
	}
	return m
}

func portOf(hostPort string) string {
	i := strings.LastIndex(hostPort, ":")
	if i < 0 {
		return ""
	}
	return hostPort[i+1:]
}

func (m *cpuMeter) found() bool { return len(m.firestorePIDs) > 0 && len(m.pubsubPIDs) > 0 }

func (m *cpuMeter) read() cpuTimes {
	var t cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, pid := range m.firestorePIDs {
		t.firestore += procCPU(pid)
	}
	for _, pid := range m.pubsubPIDs {
		t.pubsub += procCPU(pid)
	}
	t.machineBusy, t.machineAll = machineCPU()
	return t
}

func (t cpuTimes) minus(o cpuTimes) cpuTimes {
	return cpuTimes{self: t.self - o.self, firestore: t.firestore - o.firestore, pubsub: t.pubsub - o.pubsub,
		machineBusy: t.machineBusy - o.machineBusy, machineAll: t.machineAll - o.machineAll}
}

func (t cpuTimes) plus(o cpuTimes) cpuTimes {
	return cpuTimes{self: t.self + o.self, firestore: t.firestore + o.firestore, pubsub: t.pubsub + o.pubsub,
		machineBusy: t.machineBusy + o.machineBusy, machineAll: t.machineAll + o.machineAll}
}

// others is the CPU time the machine spent outside this process and its
// emulators.
func (t cpuTimes) others() time.Duration {
	return max(t.machineBusy-t.self-t.firestore-t.pubsub, 0)
}

// procCPU is a process's user + system CPU time.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: the fields start after its ")".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// machineCPU returns the busy and total CPU time of all CPUs since boot.
func machineCPU() (busy, all time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var total, idle int64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return time.Duration(total-idle) * clockTick, time.Duration(total) * clockTick
}
