#!/usr/bin/env python3
import random, subprocess, sys, os
"""Random lifecycle sequences (writes, snapshots, resize, amend, commit, rebase, backing
changes) against a guest-data model, with qemu-img check and qemu-img convert after every
step. Usage: scripts/fuzz-lifecycle.py SEED STEPS  (IMG=path/to/img, default .build/debug/img)"""
import tempfile
IMG=os.environ.get("IMG", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "debug", "img"))
W=tempfile.mkdtemp(prefix="img-fuzz-")
import atexit, shutil
atexit.register(shutil.rmtree, W, True)
def run(*a, ok=True):
    r=subprocess.run(a, capture_output=True, text=True)
    if ok and r.returncode!=0: raise Exception(f"{a} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r
def check(p):
    r=run("qemu-img","check",p,ok=False)
    if r.returncode!=0 or "No errors" not in r.stdout: raise Exception("check failed\n"+r.stdout+r.stderr)
def guest(p):
    run("qemu-img","convert","-O","raw",p,os.path.join(W, "g.raw")); return open(os.path.join(W, "g.raw"),"rb").read()
seed=int(sys.argv[1]); random.seed(seed)
cs=random.choice([512,4096,65536])
p=os.path.join(W, f"f{seed}.qcow2")
size=random.choice([1,2,4])<<20
ext = ",extended_l2=on" if cs==65536 and random.random()<0.5 else ""
lazy = ",lazy_refcounts=on" if random.random()<0.3 else ""
zstd = ",compression_type=zstd" if random.random()<0.3 else ""
base=os.path.join(W, f"b{seed}.qcow2")
run("qemu-img","create","-q","-f","qcow2",base,str(size))
run("qemu-io","-c",f"write -P 33 0 {size//2}",base)
run(IMG,"create","-q","-f","qcow2","-o",f"cluster_size={cs},refcount_bits={random.choice([4,16,64])}{ext}{lazy}{zstd}","-b",os.path.basename(base),"-F","qcow2",p,str(size))
model=bytearray(bytes([33])*(size//2)+bytes(size-size//2)); snaps={}; v=3; n=0; live=set()
k=0
log=[]
for step in range(int(sys.argv[2])):
    op=random.choice(["w","w","w","z","c","snap","snap","apply","del","grow","shrink","rc","compat","commit_rebase","newbase","commitbase"])
    try:
        if op in ("w","z","c"):
            off=random.randrange(0,len(model)//512)*512; ln=min(random.choice([512,4096,65536,300000]), len(model)-off); ln-=ln%512
            if ln<=0: continue
            pat=random.randrange(1,255)
            if op=="w": run(IMG,"io","-c",f"write -P {pat} {off} {ln}",p); model[off:off+ln]=bytes([pat])*ln
            elif op=="z": run(IMG,"io","-c",f"write -z {off} {ln}",p); model[off:off+ln]=bytes(ln)
            else:
                off=(off//cs)*cs; ln=cs
                if off+ln>len(model): continue
                r=run(IMG,"io","-c",f"write -c -P {pat} {off} {ln}",p,ok=False)
                if r.returncode==0: model[off:off+ln]=bytes([pat])*ln
                else: continue
        elif op=="snap":
            n+=1; name=f"s{n}"
            r=run(IMG,"snapshot","-c",name,p,ok=False)
            if r.returncode==0: snaps[name]=bytes(model); live.add(name)
            elif "refcount" not in r.stderr: raise Exception(r.stderr)
            else: op="snap-overflow"
        elif op=="apply" and snaps:
            name=random.choice(list(snaps)); tool=random.choice([IMG,"qemu-img"])
            op="apply-"+("img" if tool==IMG else "qemu")+"-"+name
            r=run(tool,"snapshot","-a",name,p,ok=False)
            if r.returncode!=0:
                if "v2 image" in r.stderr and len(snaps[name])!=len(model): continue
                if "would exceed" in r.stderr or "Failed to zero out" in r.stderr: continue
                raise Exception(r.stderr)
            model=bytearray(snaps[name])
        elif op=="del" and live:
            name=random.choice(sorted(live)); run(IMG,"snapshot","-d",name,p); snaps.pop(name,None); live.discard(name)
        elif op=="grow":
            if v==2 and live: continue
            add=random.choice([512,65536,1<<20,3<<20]); run(IMG,"resize","-q",p,f"+{add}"); model+=bytes(add)
        elif op=="shrink":
            if v==2 and live: continue
            new=random.randrange(1,len(model)//512)*512; run(IMG,"resize","-q","--shrink",p,str(new)); model=model[:new]
        elif op=="rc":
            if v==2: continue
            b=random.choice([1,2,4,8,16,32,64]); r=run(IMG,"amend","-o",f"refcount_bits={b}",p,ok=False)
            if r.returncode!=0 and "Cannot decrease" not in r.stderr: raise Exception(r.stderr)
        elif op=="compat":
            if v==3:
                r=run(IMG,"amend","-o","compat=0.10,refcount_bits=16",p,ok=False)
                if r.returncode==0: v=2
                elif "Cannot decrease" not in r.stderr and "zstd" not in r.stderr and "incompatible features" not in r.stderr: raise Exception(r.stderr)
            else:
                run(IMG,"amend","-o","compat=1.1",p); v=3
        elif op=="commit_rebase":
            # overlay on top, write, commit back
            top=p+".top"; 
            if os.path.exists(top): os.remove(top)
            run(IMG,"create","-q","-f","qcow2","-b",os.path.basename(p),"-F","qcow2",top)
            off=random.randrange(0,len(model)//512)*512; ln=min(200000,len(model)-off); ln-=ln%512
            if ln>0: run(IMG,"io","-c",f"write -P 77 {off} {ln}",top); model[off:off+ln]=bytes([77])*ln
            if random.random()<0.5:
                run(IMG,"commit","-q",top)
            else:
                run(IMG,"rebase","-q","-b","",top); os.replace(top,p); snaps={}; live=set()
                v=int(subprocess.run(["qemu-img","info",p],capture_output=True,text=True).stdout.count("compat: 0.10")==0)+2
        elif op=="newbase":
            k+=1; nb=os.path.join(W, f"nb{seed}-{k}.qcow2")
            run("qemu-img","create","-q","-f","qcow2",nb,str(len(model)))
            o=random.randrange(0,len(model)//2)//512*512
            run("qemu-io","-c",f"write -P {k%200+1} {o} {min(100352,len(model)-o)}",nb)
            run(IMG,"rebase","-q","-b",os.path.basename(nb),"-F","qcow2",*(["-c"] if random.random()<0.3 else []),p)
            base=nb; snaps={}  # snapshots read through the backing file too: their view changed
        elif op=="commitbase":
            r=run(IMG,"commit","-q",p,ok=False)
            if r.returncode!=0:
                if "does not have a backing file" in r.stderr: continue
                raise Exception(r.stderr)
            snaps={}
        else: continue
        check(p)
        g=guest(p)
        if g!=bytes(model):
            first=next(i for i in range(len(g)) if g[i]!=model[i])
            raise Exception(f"data mismatch after {op} (len {len(g)} vs {len(model)}) first diff at {first}: got {g[first]} want {model[first]}")
        log.append(op)
    except Exception as e:
        print(f"seed {seed} cs {cs} step {step} op {op} FAILED: {e}\nhistory: {log[-15:]}"); sys.exit(1)
print(f"seed {seed} cs {cs}: {len(log)} ops ok")
