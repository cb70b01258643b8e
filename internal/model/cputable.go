package model

// Where each row's cores, threads and TDP were read. TechPowerUp and quattor
// rows restate the vendors' product pages (Intel ARK, AMD product pages);
// the cloud-only SKUs (Intel "M/CL/C" parts, AMD "R" parts, Graviton) have
// no vendor page and carry the Teads estimate, labelled as such.
const (
	srcTPU     = "techpowerup.com/cpu-specs/"
	srcQuattor = "github.com/quattor/template-library-standard hardware/cpu/"
	srcTeads   = "Teads AWS EC2 dataset estimate (in Boavizta boaviztapi cpu_specs.csv)"
	srcBoav    = "Boavizta boaviztapi cpu_specs.csv (no primary source given: estimate)"
	srcSPEC    = "; threads: SPECpower_ssj2008 disclosure (2 threads/core)"
)

// cpuTable holds the CPU models wattlens knows, one row per SKU. Keys are
// the model numbers as they appear in /proc/cpuinfo (lower case, matched
// as whole tokens within the vendor); "|" separates aliases.
var cpuTable = []CPU{
	// Intel Xeon E5 v3/v4 (Haswell-EP, Broadwell-EP)
	c("e5-2699v3", "Xeon E5-2699 v3", "haswell-ep", 18, 36, 145, srcQuattor+"intel/xeon_e5_2699v3.pan"),
	c("e5-2676v3", "Xeon E5-2676 v3", "haswell-ep", 12, 24, 120, srcTeads),
	c("e5-2666v3", "Xeon E5-2666 v3", "haswell-ep", 10, 20, 135, srcTeads),
	c("e5-2699v4", "Xeon E5-2699 v4", "broadwell-ep", 22, 44, 145, srcQuattor+"intel/xeon_e5_2699v4.pan"),
	c("e5-2698v4", "Xeon E5-2698 v4", "broadwell-ep", 20, 40, 135, srcQuattor+"intel/xeon_e5_2698v4.pan"),
	c("e5-2683v4", "Xeon E5-2683 v4", "broadwell-ep", 16, 32, 120, srcQuattor+"intel/xeon_e5_2683v4.pan"),
	c("e5-2686v4", "Xeon E5-2686 v4", "broadwell-ep", 18, 36, 145, srcTeads),
	c("e5-4669v4", "Xeon E5-4669 v4", "broadwell-ep", 22, 44, 135, srcQuattor+"intel/xeon_e5_4669v4.pan"),
	// Xeon Scalable 1st gen (Skylake-SP)
	c("8180", "Xeon Platinum 8180", "skylake-sp", 28, 56, 205, srcTPU+"xeon-platinum-8180.c2055"),
	c("8176", "Xeon Platinum 8176", "skylake-sp", 28, 56, 165, srcQuattor+"intel/xeon_platinum_8176.pan"),
	c("8176m", "Xeon Platinum 8176M", "skylake-sp", 28, 56, 165, srcTeads),
	c("8160", "Xeon Platinum 8160", "skylake-sp", 24, 48, 150, srcQuattor+"intel/xeon_platinum_8160.pan"),
	c("8175m", "Xeon Platinum 8175M (AWS)", "skylake-sp", 24, 48, 240, srcTeads),
	c("8124m", "Xeon Platinum 8124M (AWS)", "skylake-sp", 18, 36, 240, srcTeads),
	c("8151", "Xeon Platinum 8151 (AWS)", "skylake-sp", 12, 24, 240, srcTeads),
	c("6154", "Xeon Gold 6154", "skylake-sp", 18, 36, 200, srcTPU+"xeon-gold-6154.c2056"),
	c("6152", "Xeon Gold 6152", "skylake-sp", 22, 44, 140, srcQuattor+"intel/xeon_gold_6152.pan"),
	c("6140", "Xeon Gold 6140", "skylake-sp", 18, 36, 140, srcQuattor+"intel/xeon_gold_6140.pan"),
	c("6136", "Xeon Gold 6136", "skylake-sp", 12, 24, 150, srcQuattor+"intel/xeon_gold_6136.pan"),
	c("4116", "Xeon Silver 4116", "skylake-sp", 12, 24, 85, srcTPU+"xeon-silver-4116.c2057"),
	c("4114", "Xeon Silver 4114", "skylake-sp", 10, 20, 85, srcQuattor+"intel/xeon_silver_4114.pan"),
	c("4110", "Xeon Silver 4110", "skylake-sp", 8, 16, 85, srcQuattor+"intel/xeon_silver_4110.pan"),
	// Xeon Scalable 2nd gen (Cascade Lake-SP) and Cooper Lake
	c("8280", "Xeon Platinum 8280", "cascadelake-sp", 28, 56, 205, srcTPU+"xeon-platinum-8280.c2170"),
	c("8280l", "Xeon Platinum 8280L", "cascadelake-sp", 28, 56, 205, srcQuattor+"intel/xeon_platinum_8280l.pan"),
	c("8276", "Xeon Platinum 8276", "cascadelake-sp", 28, 56, 165, srcTPU+"xeon-platinum-8276.c2171"),
	c("8276l", "Xeon Platinum 8276L", "cascadelake-sp", 28, 56, 165, srcQuattor+"intel/xeon_platinum_8276l.pan"),
	c("8268", "Xeon Platinum 8268", "cascadelake-sp", 24, 48, 205, srcTPU+"xeon-platinum-8268.c2177"),
	c("8260", "Xeon Platinum 8260", "cascadelake-sp", 24, 48, 165, srcTPU+"xeon-platinum-8260.c2179"),
	c("8275cl", "Xeon Platinum 8275CL (AWS)", "cascadelake-sp", 24, 48, 240, srcTeads),
	c("8259cl", "Xeon Platinum 8259CL (AWS)", "cascadelake-sp", 24, 48, 210, srcTeads),
	c("8252c", "Xeon Platinum 8252C (AWS)", "cascadelake-sp", 12, 24, 240, srcTeads),
	c("6248", "Xeon Gold 6248", "cascadelake-sp", 20, 40, 150, srcQuattor+"intel/xeon_gold_6248.pan"),
	c("6252", "Xeon Gold 6252", "cascadelake-sp", 24, 48, 150, srcQuattor+"intel/xeon_gold_6252.pan"),
	c("6238r", "Xeon Gold 6238R", "cascadelake-sp", 28, 56, 165, srcQuattor+"intel/xeon_gold_6238r.pan"),
	c("6226r", "Xeon Gold 6226R", "cascadelake-sp", 16, 32, 150, srcQuattor+"intel/xeon_gold_6226r.pan"),
	c("5220", "Xeon Gold 5220", "cascadelake-sp", 18, 36, 125, srcQuattor+"intel/xeon_gold_5220.pan"),
	c("5218", "Xeon Gold 5218", "cascadelake-sp", 16, 32, 125, srcQuattor+"intel/xeon_gold_5218.pan"),
	c("4214", "Xeon Silver 4214", "cascadelake-sp", 12, 24, 85, srcQuattor+"intel/xeon_silver_4214.pan"+srcSPEC),
	c("4210", "Xeon Silver 4210", "cascadelake-sp", 10, 20, 85, srcQuattor+"intel/xeon_silver_4210.pan"+srcSPEC),
	c("8380h|8380hl", "Xeon Platinum 8380H/HL", "cooperlake-sp", 28, 56, 250, srcTPU+"xeon-platinum-8380hl.c2464"),
	c("8376h|8376hl", "Xeon Platinum 8376H/HL", "cooperlake-sp", 28, 56, 205, srcTPU+"xeon-platinum-8376hl.c2461"),
	// Xeon Scalable 3rd gen (Ice Lake-SP) and Xeon D
	c("8380", "Xeon Platinum 8380", "icelake-sp", 40, 80, 270, srcTPU+"xeon-platinum-8380.c2421"),
	c("8375c", "Xeon Platinum 8375C (AWS)", "icelake-sp", 32, 64, 300, srcTeads),
	c("8368q", "Xeon Platinum 8368Q", "icelake-sp", 38, 76, 270, srcTPU+"xeon-platinum-8368q.c2427"),
	c("8360y", "Xeon Platinum 8360Y", "icelake-sp", 36, 72, 250, srcTPU+"xeon-platinum-8360y.c2423"),
	c("8358", "Xeon Platinum 8358", "icelake-sp", 32, 64, 250, srcTPU+"xeon-platinum-8358.c2424"),
	c("8352y", "Xeon Platinum 8352Y", "icelake-sp", 32, 64, 205, srcQuattor+"intel/xeon_platinum_8352y.pan"),
	c("8352m", "Xeon Platinum 8352M", "icelake-sp", 32, 64, 185, srcTPU+"xeon-platinum-8352m.c2431"),
	c("6338n", "Xeon Gold 6338N", "icelake-sp", 32, 64, 185, srcTPU+"xeon-gold-6338n.c2437"),
	c("6336y", "Xeon Gold 6336Y", "icelake-sp", 24, 48, 185, srcTPU+"xeon-gold-6336y.c2442"),
	c("6330", "Xeon Gold 6330", "icelake-sp", 28, 56, 205, srcTPU+"xeon-gold-6330.c2434"),
	c("6314u", "Xeon Gold 6314U", "icelake-sp", 32, 64, 205, srcTPU+"xeon-gold-6314u.c2436"),
	c("5318y", "Xeon Gold 5318Y", "icelake-sp", 24, 48, 165, srcTPU+"xeon-gold-5318y.c2444"),
	c("4314", "Xeon Silver 4314", "icelake-sp", 16, 32, 135, srcTPU+"xeon-silver-4314.c2451"),
	c("4310", "Xeon Silver 4310", "icelake-sp", 12, 24, 120, srcTPU+"xeon-silver-4310.c2454"),
	c("d-2775te", "Xeon D-2775TE", "icelake-d", 16, 32, 100, srcQuattor+"intel/xeon_d_2775te.pan"),
	// Xeon Scalable 4th gen (Sapphire Rapids)
	c("8490h", "Xeon Platinum 8490H", "sapphirerapids", 60, 120, 350, srcTPU+"xeon-platinum-8490h.c2942"),
	c("8480+", "Xeon Platinum 8480+", "sapphirerapids", 56, 112, 350, srcTPU+"xeon-platinum-8480.c2958"),
	c("8488c", "Xeon Platinum 8488C (AWS)", "sapphirerapids", 48, 96, 385, srcBoav),
	c("8471n", "Xeon Platinum 8471N", "sapphirerapids", 52, 104, 300, srcTPU+"xeon-platinum-8471n.c3092"),
	c("8468", "Xeon Platinum 8468", "sapphirerapids", 48, 96, 350, srcTPU+"xeon-platinum-8468.c3094"),
	c("6454s", "Xeon Gold 6454S", "sapphirerapids", 32, 64, 270, srcTPU+"xeon-gold-6454s.c3149"),
	c("6448y", "Xeon Gold 6448Y", "sapphirerapids", 32, 64, 225, srcTPU+"xeon-gold-6448y.c3148"),
	c("6438y+", "Xeon Gold 6438Y+", "sapphirerapids", 32, 64, 205, srcTPU+"xeon-gold-6438y.c3146"),
	c("6438n", "Xeon Gold 6438N", "sapphirerapids", 32, 64, 205, srcTPU+"xeon-gold-6438n.c3145"),
	c("6433n", "Xeon Gold 6433N", "sapphirerapids", 32, 64, 205, srcQuattor+"intel/xeon_gold_6433n.pan"),
	c("6430", "Xeon Gold 6430", "sapphirerapids", 32, 64, 270, srcTPU+"xeon-gold-6430.c3143"),
	c("6428n", "Xeon Gold 6428N", "sapphirerapids", 32, 64, 185, srcTPU+"xeon-gold-6428n.c3142"),
	c("6421n", "Xeon Gold 6421N", "sapphirerapids", 32, 64, 185, srcTPU+"xeon-gold-6421n.c3141"),
	c("6414u", "Xeon Gold 6414U", "sapphirerapids", 32, 64, 250, srcTPU+"xeon-gold-6414u.c3140"),
	c("5418y", "Xeon Gold 5418Y", "sapphirerapids", 24, 48, 185, srcTPU+"xeon-gold-5418y.c3155"),
	c("4410y", "Xeon Silver 4410Y", "sapphirerapids", 12, 24, 150, srcTPU+"xeon-silver-4410y.c3168"),
	// Xeon Scalable 5th gen (Emerald Rapids)
	c("8592+", "Xeon Platinum 8592+", "emeraldrapids", 64, 128, 350, srcQuattor+"intel/xeon_platinum_8592+.pan"),
	c("8581v", "Xeon Platinum 8581V", "emeraldrapids", 60, 120, 270, srcQuattor+"intel/xeon_platinum_8581v.pan"),
	c("8562y+", "Xeon Platinum 8562Y+", "emeraldrapids", 32, 64, 300, srcQuattor+"intel/xeon_platinum_8562y+.pan"),
	c("6548y+|6548y", "Xeon Gold 6548Y+", "emeraldrapids", 32, 64, 250, srcQuattor+"intel/xeon_gold_6548y+.pan"),
	c("6538y+", "Xeon Gold 6538Y+", "emeraldrapids", 32, 64, 225, srcQuattor+"intel/xeon_gold_6538y+.pan"),
	c("5520+", "Xeon Gold 5520+", "emeraldrapids", 28, 56, 205, srcQuattor+"intel/xeon_gold_5520+.pan"),
	c("4510", "Xeon Silver 4510", "emeraldrapids", 12, 24, 150, srcQuattor+"intel/xeon_silver_4510.pan"),
	// Xeon 6 (Granite Rapids P-core, Sierra Forest E-core)
	c("6980p", "Xeon 6980P", "graniterapids", 128, 256, 500, srcQuattor+"intel/xeon_6980p.pan"),
	c("6979p", "Xeon 6979P", "graniterapids", 120, 240, 500, srcQuattor+"intel/xeon_6979p.pan"),
	c("6972p", "Xeon 6972P", "graniterapids", 96, 192, 500, srcQuattor+"intel/xeon_6972p.pan"),
	c("6952p", "Xeon 6952P", "graniterapids", 96, 192, 400, srcQuattor+"intel/xeon_6952p.pan"),
	c("6780e", "Xeon 6780E", "sierraforest", 144, 144, 330, srcQuattor+"intel/xeon_6780e.pan"),
	c("6766e", "Xeon 6766E", "sierraforest", 144, 144, 250, srcQuattor+"intel/xeon_6766e.pan"),
	// Intel entry servers, desktops and laptops
	c("e3-1230v6", "Xeon E3-1230 v6", "kabylake", 4, 8, 72, srcQuattor+"intel/xeon_e3_1230v6.pan"),
	c("e-2276g", "Xeon E-2276G", "coffeelake", 6, 12, 80, srcQuattor+"intel/xeon_e_2276g.pan"),
	c("e-2288g", "Xeon E-2288G", "coffeelake", 8, 16, 95, srcQuattor+"intel/xeon_e_2288g.pan"),
	c("e-2388g", "Xeon E-2388G", "rocketlake", 8, 16, 95, srcQuattor+"intel/xeon_e_2388g.pan"),
	c("e-2488", "Xeon E-2488", "raptorlake", 8, 16, 95, srcQuattor+"intel/xeon_e_2488.pan"),
	c("i7-7700", "Core i7-7700", "kabylake", 4, 8, 65, srcTPU+"core-i7-7700.c1843"),
	c("i7-8550u", "Core i7-8550U", "kabylake", 4, 8, 15, srcTPU+"core-i7-8550u.c1974"),
	c("i7-8700", "Core i7-8700", "coffeelake", 6, 12, 65, srcTPU+"core-i7-8700.c1949"),
	c("i7-8700k", "Core i7-8700K", "coffeelake", 6, 12, 95, srcTPU+"core-i7-8700k.c1947"),
	c("i7-8750h", "Core i7-8750H", "coffeelake", 6, 12, 45, srcTPU+"core-i7-8750h.c1992"),
	c("i7-9750h", "Core i7-9750H", "coffeelake", 6, 12, 45, srcTPU+"core-i7-9750h.c2290"),
	c("i9-10900", "Core i9-10900", "cometlake", 10, 20, 65, srcTPU+"core-i9-10900.c2265"),
	c("i9-10850k", "Core i9-10850K", "cometlake", 10, 20, 125, srcTPU+"core-i9-10850k.c2336"),
}

// c builds a table row.
func c(keys, name, arch string, cores, threads int, tdp float64, src string) CPU {
	return CPU{Keys: splitKeys(keys), Name: name, Arch: arch, Cores: cores, Threads: threads, TDP: tdp, Source: src}
}
